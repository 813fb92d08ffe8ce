"""MEDALLION_ENV=prod on this machine, for real: PostgreSQL (Dagster storage, DuckLake catalog, MLflow backend,
serving), Redis, the MLflow server, the gRPC code server, the webserver, two Celery workers and the daemon as separate
processes. Runs are submitted through the webserver as the UI does, queued, and launched by the daemon to the workers.
Backfills here are one run each (MEDALLION_RUN_DAYS=all); medallion_tests/prod splits them and kills workers."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion.deploy.postgres_storage import PooledPostgresStorage
from medallion.resources.environments import resources_for
from medallion.settings import Settings, SettingsError
from medallion.sources.generate import generate
from medallion.tools.prod_stack import ProdStack
from medallion_tests.conftest import pg_rows
from medallion_tests.servers import listening_addresses, poll, prod_stack

START = date(2025, 1, 1)
APP_DAYS, ROWS_PER_DAY, DELAY = 60, 100, 2
LAST_APP_DAY = START + timedelta(days=APP_DAYS - 1)


def landed(landing: Path) -> None:
    generate(landing, START, APP_DAYS, ROWS_PER_DAY, label_delay_days=DELAY, seed=3)


@pytest.fixture(scope="module")
def stack() -> ProdStack:
    with prod_stack(landed, days_per_run=None) as stack:
        yield stack


def prod_settings(stack: ProdStack, monkeypatch) -> Settings:
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def lake(stack: ProdStack, monkeypatch, sql: str) -> pl.DataFrame:
    warehouse = resources_for(prod_settings(stack, monkeypatch))["warehouse"].process_config_and_initialize()
    return warehouse.query(sql)


def test_the_prod_profile_resolves_its_resources_from_the_environment(stack, monkeypatch):
    settings = prod_settings(stack, monkeypatch)
    defs = build_definitions(settings)
    assert defs.resolve_job_def("etl_job") is not None
    resources = resources_for(settings)
    password = stack.postgres.url().split(":")[2].split("@")[0]
    assert password not in repr(resources)  # URLs reach the resources as EnvVar names, never as values
    warehouse = resources["warehouse"].process_config_and_initialize()
    assert warehouse.location.is_lake and warehouse.query("select 42 as answer")["answer"][0] == 42


def launched(stack: ProdStack, job: str, first: date, last: date | None = None) -> tuple[str, str]:
    """One run of `job` over the days, submitted through the webserver as the UI's launchpad does; (id, status)."""
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.ports.webserver)
    tags = {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last or first)}
    run_id = client.submit_job_execution(job, repository_location_name="medallion", tags=tags)

    def finished() -> str | None:
        status = client.get_run_status(run_id).value
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    return run_id, poll(finished, f"{job} still running", 600, interval=1.0)


def test_etl_training_and_inference_run_on_the_workers_on_prod_storage(stack, monkeypatch):
    assert launched(stack, "etl_job", START, LAST_APP_DAY + timedelta(days=DELAY))[1] == "SUCCESS"
    training = launched(stack, "training_job", LAST_APP_DAY + timedelta(days=DELAY))
    last_week = LAST_APP_DAY - timedelta(days=6)
    inference = launched(stack, "inference_job", last_week, LAST_APP_DAY)
    assert (training[1], inference[1]) == ("SUCCESS", "SUCCESS")

    # Dagster's run history is in PostgreSQL; each run names the worker that ran it
    dagster_db = stack.database_url("dagster")
    statuses = dict(pg_rows(dagster_db, "select run_id, status from runs"))
    assert {statuses[run_id] for run_id, _ in (training, inference)} == {"SUCCESS"}
    workers = pg_rows(
        dagster_db, "select value from run_tags where key = 'medallion/worker' and run_id = %s", [training[0]]
    )
    assert workers in ([(stack.worker_name("worker1"),)], [(stack.worker_name("worker2"),)])
    # the warehouse is the DuckLake: Parquet files under the data path, catalog in PostgreSQL
    features = lake(
        stack, monkeypatch, "select count(*) as n, count(distinct partition_date) as days from gold.features"
    )
    assert features.row(0) == (APP_DAYS * ROWS_PER_DAY, APP_DAYS)
    assert list((stack.home / "lake").rglob("*.parquet"))
    assert pg_rows(stack.database_url("lake"), "select count(*) from ducklake_table")[0][0] > 0
    # the model is registered on the MLflow server (PostgreSQL backend)
    mlflow = resources_for(prod_settings(stack, monkeypatch))["mlflow"].process_config_and_initialize()
    champion = mlflow.for_model("credit_default").version_by_alias("champion")
    assert champion is not None
    assert pg_rows(stack.database_url("mlflow"), "select count(*) from model_versions")[0][0] >= 1
    # predictions are served to PostgreSQL and Delta, and equal ml.predictions
    scored = lake(stack, monkeypatch, f"select count(*) as n from ml.predictions where partition_date >= '{last_week}'")
    served = pg_rows(stack.database_url("serving"), "select count(*) from serving.predictions")[0][0]
    assert served == scored["n"][0] == 7 * ROWS_PER_DAY
    assert pl.read_delta(str(stack.home / "serving" / "delta" / "daily_summary")).height == 7


def test_a_process_writes_its_events_through_one_kept_connection(stack, monkeypatch):
    """deploy/dagster.prod.yaml's storage: Dagster's own opens a PostgreSQL connection (a server process) per write."""
    prod_settings(stack, monkeypatch)
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        assert isinstance(instance.get_ref().storage, PooledPostgresStorage)
        backends = set()
        for _ in range(3):
            with instance.event_log_storage.index_connection() as conn:
                backends.add(conn.exec_driver_sql("select pg_backend_pid()").scalar())
        assert len(backends) == 1
        assert instance.get_runs(limit=1)  # and it reads the runs above


def test_the_password_appears_in_no_event_log_metadata_mlflow_record_or_service_log(stack):
    """After the runs above: the PostgreSQL and Redis passwords are nowhere a user or a log shipper reads."""
    passwords = [url.split(":")[2].split("@")[0] for url in (stack.postgres.url(), stack.redis.url())]
    assert pg_rows(stack.database_url("dagster"), "select count(*) from runs") != [(0,)]
    for password in passwords:
        for table in ("event_logs", "runs", "asset_keys"):
            found = pg_rows(
                stack.database_url("dagster"),
                f"select count(*) from {table} where {table}::text like %s",
                [f"%{password}%"],
            )
            assert found == [(0,)], f"a password is in Dagster's {table}"
        for table in ("params", "tags", "model_versions", "registered_model_tags", "model_version_tags"):
            found = pg_rows(
                stack.database_url("mlflow"),
                f"select count(*) from {table} where {table}::text like %s",
                [f"%{password}%"],
            )
            assert found == [(0,)], f"a password is in MLflow's {table}"
        for log in stack.root.glob("*.log"):
            assert password not in log.read_text(errors="replace"), f"a password is in {log.name}"


def test_every_service_listens_on_loopback_only(stack):
    ports = {
        stack.ports.postgres,
        stack.ports.mlflow,
        stack.ports.code_server,
        stack.ports.webserver,
        stack.ports.redis,
    }
    listening = listening_addresses()
    assert ports <= {port for _, port in listening}
    assert {address for address, port in listening if port in ports} == {"127.0.0.1"}


def test_a_60_day_backfill_split_over_concurrent_runs_is_correct_with_no_lock_errors(stack, monkeypatch):
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.ports.webserver)
    chunks = [(START + timedelta(days=20 * i), START + timedelta(days=20 * i + 19)) for i in range(3)]
    run_ids = [
        client.submit_job_execution(
            "etl_job",
            repository_location_name="medallion",
            tags={
                "dagster/asset_partition_range_start": a.isoformat(),
                "dagster/asset_partition_range_end": b.isoformat(),
            },
        )
        for a, b in chunks
    ]
    deadline = time.monotonic() + 600
    while {client.get_run_status(r).value for r in run_ids} - {"SUCCESS", "FAILURE", "CANCELED"}:
        assert time.monotonic() < deadline
        time.sleep(1)
    assert [client.get_run_status(r).value for r in run_ids] == ["SUCCESS"] * 3
    runs = pg_rows(
        stack.database_url("dagster"),
        "select run_id, start_time, end_time from runs where run_id = any(%s)",
        [run_ids],
    )
    overlapping = any(a[1] < b[2] and b[1] < a[2] for a in runs for b in runs if a is not b)
    assert overlapping, "no two runs wrote the lake at the same time (two workers)"
    events = pg_rows(
        stack.database_url("dagster"),
        # A DuckLake commit conflict is retried and logged (table_writes); a lock error or a failed step is not.
        "select count(*) from event_logs where run_id = any(%s) and (event ilike '%%could not set lock%%' or "
        "event ilike '%%conflicting lock%%' or dagster_event_type = 'STEP_FAILURE')",
        [run_ids],
    )
    assert events == [(0,)]
    per_day = lake(
        stack,
        monkeypatch,
        "select partition_date, count(*) as n from silver.applications group by 1 order by 1",
    )
    assert per_day.height == APP_DAYS and per_day["n"].to_list() == [ROWS_PER_DAY] * APP_DAYS


def test_prod_without_its_variables_fails_at_load_naming_them(tmp_path):
    with pytest.raises(SettingsError, match="MEDALLION_LAKE_CATALOG_URL"):
        build_definitions(Settings.from_env({"MEDALLION_HOME": str(tmp_path), "MEDALLION_ENV": "prod"}))
