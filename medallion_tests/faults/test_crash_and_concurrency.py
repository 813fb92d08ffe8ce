"""The warehouse IO manager under a kill -9 mid-insert (DuckDB file and DuckLake), and two runs of the same day at
once."""

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion.resources.environments import resources_for
from medallion.resources.warehouse import Warehouse
from medallion.settings import (
    DAGSTER_PG_URL_VAR,
    LAKE_CATALOG_URL_VAR,
    MLFLOW_TRACKING_URI_VAR,
    PROJECT_DIR,
    Settings,
)
from medallion_tests.conftest import DAY1, pg_rows, run_etl
from medallion_tests.faults.conftest import (
    HEADER,
    clean_home,
    finish_etl_process,
    land_files,
    row,
    run,
    start_etl_process,
    tables,
    text,
    tree_digest,
)

COPIES = 50_000  # silver rows per landed row for the big partition: 20 x 50,000 = 1,000,000 feature rows

AMOUNTS = [f"{kind}{i}" for kind in ("BILL_AMT", "PAY_AMT") for i in range(1, 7)]
# Random amounts, so the features do not compress to nothing and the insert takes long enough to be caught.
GROW_SILVER = (
    "insert into silver.applications select applications.* replace (ID + 100 * copy as ID, "
    + ", ".join(f"(random() * 100000)::bigint as {c}" for c in AMOUNTS)
    + f") from silver.applications, range(1, {COPIES}) copies(copy) where partition_date = '{DAY1}'"
)

MATERIALIZE_FEATURES = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from medallion.definitions import build_definitions
    defs = build_definitions()  # the settings of this process's environment, as `dagster dev` loads them
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        partition_key=sys.argv[1], asset_selection=[dg.AssetKey(["gold", "features"])]
    )
    print("done", result.success)
    """
)


@pytest.fixture
def duckdb_home(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("MEDALLION_ENV", "local")
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path / "home"))
    return Settings.from_env()


@pytest.fixture
def lake_home(tmp_path, monkeypatch, pg_url) -> Settings:
    """The prod warehouse: a DuckLake on a real PostgreSQL catalog, files under the home; the other prod variables
    are set for the settings' check, and no step of these tests uses them."""
    environment = {
        "MEDALLION_ENV": "prod",
        "MEDALLION_HOME": str(tmp_path / "home"),
        LAKE_CATALOG_URL_VAR: pg_url,
        "MEDALLION_LAKE_DATA_PATH": str(tmp_path / "home" / "lake"),
        DAGSTER_PG_URL_VAR: pg_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        MLFLOW_TRACKING_URI_VAR: "http://127.0.0.1:9",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def warehouse_of(settings: Settings) -> Warehouse:
    return resources_for(settings)["warehouse"].process_config_and_initialize()


def features_of_day(settings: Settings) -> pl.DataFrame:
    return warehouse_of(settings).query(f"select * from gold.features where partition_date = '{DAY1}' order by ID")


def prepare_a_big_day(settings: Settings) -> pl.DataFrame:
    """DAY1 materialized from 20 landed rows, then its silver grown to 1M rows; returns the day's 20 feature rows."""
    landed = text(HEADER, *(row(i, AGE=str(20 + i)) for i in range(1, 21)))
    land_files(settings, "applications", DAY1, {"a.csv": landed})
    assert run_etl(build_definitions(settings), DAY1).success
    previous = features_of_day(settings)
    assert previous.height == 20
    with warehouse_of(settings).connect() as connection:
        connection.execute(GROW_SILVER)
    return previous


def kill_the_features_step_once(writing: Callable[[], bool]) -> None:
    """Materializes DAY1's gold.features in a new process (this one's environment) and kills it with SIGKILL as soon
    as `writing()` says its transaction is writing the new rows."""
    writer = subprocess.Popen(
        [sys.executable, "-c", MATERIALIZE_FEATURES, DAY1.isoformat()],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not writing():
            assert writer.poll() is None, "the writer finished before it could be killed mid-insert"
            assert time.monotonic() < deadline, "the writer never started inserting"
            time.sleep(0.01)
        writer.kill()
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -9


def test_materialization_killed_mid_insert_leaves_the_previous_rows_then_a_rerun_gives_the_clean_result(duckdb_home):
    previous = prepare_a_big_day(duckdb_home)
    database = duckdb_home.warehouse_path
    wal = database.with_name(database.name + ".wal")
    size_before = database.stat().st_size

    def inserting() -> bool:  # the step's transaction is writing the new rows into the file (or its WAL)
        return database.stat().st_size > size_before + 20_000_000 or (wal.exists() and wal.stat().st_size > 20_000_000)

    kill_the_features_step_once(inserting)
    assert features_of_day(duckdb_home).equals(previous)  # readers see the day as it was, not an empty or half day
    assert rerun_features(duckdb_home) == 20 * COPIES


def test_ducklake_materialization_killed_mid_insert_leaves_the_previous_rows_then_a_rerun_gives_the_clean_result(
    lake_home, pg_url
):
    previous = prepare_a_big_day(lake_home)
    table_files = Path(lake_home.lake_data_root) / "gold" / "features"
    files_before = set(table_files.iterdir())

    def inserting() -> bool:  # the step's transaction is writing a new data file (uncommitted until the catalog says)
        return any(
            path.stat().st_size > 0 and "delete" not in path.name for path in set(table_files.iterdir()) - files_before
        )

    kill_the_features_step_once(inserting)
    written = {path.name for path in set(table_files.iterdir()) - files_before}
    listed = {Path(path).name for (path,) in pg_rows(pg_url, "select path from ducklake_data_file")}
    assert written and not written & listed  # the killed transaction's data file is in no snapshot of the catalog
    assert features_of_day(lake_home).equals(previous)
    assert rerun_features(lake_home) == 20 * COPIES


def rerun_features(settings: Settings) -> int:
    """The features step rerun in this process; checks gold holds one row per silver row of the day."""
    result = (
        build_definitions(settings)
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(partition_key=DAY1.isoformat(), asset_selection=[dg.AssetKey(["gold", "features"])])
    )
    assert result.success
    warehouse = warehouse_of(settings)
    gold = warehouse.query(
        f"select count(*) as n, count(distinct ID) as ids from gold.features where partition_date = '{DAY1}'"
    ).row(0)
    silver = warehouse.query(f"select count(*) as n from silver.applications where partition_date = '{DAY1}'")
    assert gold[0] == gold[1] == silver["n"][0]
    return gold[0]


def test_two_runs_of_the_same_day_at_once_give_one_correct_copy(tmp_path):
    home = Settings(home=tmp_path / "home", env="local")
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *(row(i) for i in range(1, 2001)))})
    landed = tree_digest(home.landing_dir)
    with open(tmp_path / "first.log", "wb") as first_log, open(tmp_path / "second.log", "wb") as second_log:
        first = start_etl_process(home, DAY1, log=first_log)
        second = start_etl_process(home, DAY1, log=second_log)
        results = [finish_etl_process(first), finish_etl_process(second)]
    assert all(r.success for r in results), [r.failure for r in results]
    assert tree_digest(home.landing_dir) == landed  # neither run modified a landed file
    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, DAY1).success
    assert tables(home) == tables(clean)
    assert len(tables(home)["silver.applications"]) == 2000
