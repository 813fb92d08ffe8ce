"""Shared fixtures: a temporary MEDALLION_HOME, the real definitions built on it, and landing/warehouse helpers."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from medallion.components import Dataset  # noqa: E402
from medallion.definitions import build_definitions  # noqa: E402
from medallion.resources.environments import resources_for  # noqa: E402
from medallion.settings import PACKAGE_DIR, REFERENCE_DATASET, Settings  # noqa: E402
from medallion.tools.local_postgres import LocalPostgres, free_port  # noqa: E402

LABEL = "default payment next month"
CREDIT_CONTRACT = PACKAGE_DIR / "defs" / "credit_default" / "contract.yaml"
# The shipped dataset's `ml:` mapping, to scaffold it beside others exactly as it ships.
CREDIT_ML = yaml.safe_load((CREDIT_CONTRACT.parent / "defs.yaml").read_text())["attributes"]["ml"]
DAY1 = date(2025, 1, 1)


@pytest.fixture(scope="session")
def reference() -> pl.DataFrame:
    return pl.read_csv(REFERENCE_DATASET)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path / "home"))
    return Settings.from_env()


def land(home: Settings, feed: str, day: date, name: str, content: str | bytes) -> Path:
    folder = home.landing_dir / feed / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def land_reference_rows(
    home: Settings, reference: pl.DataFrame, day: date, offset: int, rows: int, name: str = "applications.csv"
) -> pl.DataFrame:
    part = reference.slice(offset, rows)
    land(home, "applications", day, name, part.drop(LABEL).write_csv())
    return part


def land_outcomes(
    home: Settings, part: pl.DataFrame, day: date, name: str = "outcomes.csv", applied: date | None = None
) -> Path:
    frame = part.select(
        "ID",
        pl.col(LABEL).alias("default_payment_next_month"),
        pl.lit(day.isoformat()).alias("outcome_date"),
        pl.lit(applied.isoformat() if applied else None, pl.String).alias("application_date"),
    )
    return land(home, "outcomes", day, name, frame.write_csv())


def run_etl(
    defs: dg.Definitions,
    first: date,
    last: date | None = None,
    instance: dg.DagsterInstance | None = None,
    job: str = "etl_job",
    **kwargs,
):
    """`job` over the days in process: default the shipped dataset's ETL job; another dataset's is etl_job__<name>."""
    last = last or first
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    return defs.resolve_job_def(job).execute_in_process(instance=instance, tags=tags, raise_on_error=False, **kwargs)


def table(home: Settings, name: str, where: str = "") -> pl.DataFrame:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        return connection.execute(f"select * from {name} {where}").pl()


def table_exists(home: Settings, name: str) -> bool:
    schema, table_name = name.split(".")
    if not home.warehouse_path.exists():
        return False
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        found = connection.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table_name],
        ).fetchone()
    return found[0] > 0


def checks_by_day(result) -> dict[tuple[str, str], dict[str | None, dg.AssetCheckEvaluation]]:
    found: dict[tuple[str, str], dict[str | None, dg.AssetCheckEvaluation]] = {}
    for e in result.get_asset_check_evaluations():
        found.setdefault((e.asset_key.to_user_string(), e.check_name), {})[e.partition] = e
    return found


def checks_by_name(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    """Each check's verdict over the run: its first failing day's evaluation, or its last day's when all passed."""
    return {
        key: next((e for e in by_day.values() if not e.passed), list(by_day.values())[-1])
        for key, by_day in checks_by_day(result).items()
    }


def days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def mlflow_of(home: Settings, model: str = "credit_default"):
    """The home's MLflow resource addressing `model`'s registry entries."""
    return resources_for(home)["mlflow"].for_model(model)


@pytest.fixture(scope="session")
def empty_mlflow_store(tmp_path_factory) -> Path:
    """An MLflow sqlite store with its schema migrated; creating one costs ~20 s, copying it nothing."""
    home = Settings(home=tmp_path_factory.mktemp("mlflow_template"), env="local")
    mlflow_of(home).client().search_registered_models()
    return home.mlflow_dir / "mlflow.db"


def with_mlflow_store(home: Settings, store: Path) -> None:
    home.mlflow_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(store, home.mlflow_dir / "mlflow.db")


@pytest.fixture
def defs(home) -> dg.Definitions:
    return build_definitions(home)


@contextmanager
def scaffolded_project(datasets: dict[str, tuple[Path, bool | dict] | None]) -> Iterator[tuple[Path, Path]]:
    """A temporary project with the real defs/automation and each dataset scaffolded through the Dataset component,
    name → (contract file, its `ml` attribute) or None to keep the scaffolded skeleton; yields (project root, defs
    folder) for `build_definitions(..., project_root=...)`."""
    with create_defs_folder_sandbox() as sandbox:
        shutil.copytree(
            PACKAGE_DIR / "defs" / "automation",
            sandbox.defs_folder_path / "automation",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for name, replacement in datasets.items():
            path = sandbox.scaffold_component(component_cls=Dataset, defs_path=name)
            if replacement is None:
                continue
            contract, ml = replacement
            shutil.copy(contract, path / "contract.yaml")
            defs_yaml = yaml.safe_load((path / "defs.yaml").read_text())
            defs_yaml["attributes"]["ml"] = ml
            (path / "defs.yaml").write_text(yaml.safe_dump(defs_yaml))
        source = str(sandbox.project_root / "src")
        sys.path.insert(0, source)
        try:
            yield sandbox.project_root, sandbox.defs_folder_path
        finally:
            sys.path.remove(source)


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL on 127.0.0.1 for the session, from the machine's binaries."""
    root = Path(tempfile.mkdtemp(prefix="medallion-pg-"))
    server = LocalPostgres(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server) -> str:
    """A new, empty database on the session's server for one test; its URL."""
    return postgres_server.create_database(f"test_{uuid.uuid4().hex[:12]}")


def pg_rows(url: str, sql: str, parameters: list | None = None) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql, parameters)  # None: no %-formatting, so LIKE patterns pass through
        rows = cursor.fetchall()
    connection.close()
    return rows
