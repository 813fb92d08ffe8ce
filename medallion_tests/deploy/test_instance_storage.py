"""The local instance's storage (deploy/dagster.yaml → medallion/deploy/instance_storage.py): Dagster's SQLite storage
with the event log's connections kept open. What it writes another process reads, per-day check results included;
it holds only a few run databases open; an instance opened from a directory that is not $DAGSTER_HOME is refused."""

import os
import shutil
import subprocess
import sys
import warnings
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from medallion.deploy.instance_storage import OPEN_RUN_DATABASES, PooledSqliteEventLogStorage, open_instance
from medallion.settings import PROJECT_DIR

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-07")


@dg.asset(partitions_def=DAYS)
def counted(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"days {context.partition_keys}")


with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned check specs, as medallion/checks/steps.py
    RAN = dg.AssetCheckSpec("ran", asset=counted.key, partitions_def=DAYS)


@dg.multi_asset_check(specs=[RAN])
def ran(context: dg.AssetCheckExecutionContext):
    """One result per day of the run, as the project's checks give."""
    window = context.partition_time_window
    for offset in range((window.end - window.start).days):
        day = (window.start + timedelta(days=offset)).strftime("%Y-%m-%d")
        yield dg.AssetCheckEvaluation(asset_key=counted.key, check_name="ran", passed=True, partition=day)
    yield dg.Output(
        None, output_name=context.op_execution_context.assets_def.get_output_name_for_asset_check_key(RAN.key)
    )


JOB = dg.define_asset_job("counted_job", selection=[counted])


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_DIR / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return home


def ranged_run(instance: dg.DagsterInstance, first: str, last: str) -> dg.ExecuteInProcessResult:
    job = dg.Definitions(assets=[counted], asset_checks=[ran], jobs=[JOB]).resolve_job_def("counted_job")
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    return job.execute_in_process(instance=instance, tags=tags)


def open_run_databases(directory: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    targets = [os.readlink(fds / fd) for fd in os.listdir(fds) if (fds / fd).is_symlink()]
    return [t for t in targets if t.startswith(str(directory)) and t.endswith(".db") and not t.endswith("index.db")]


def test_what_one_instance_writes_another_process_reads(dagster_home):
    with open_instance(dagster_home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        with instance.event_log_storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL: no full sync per commit
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        result = ranged_run(instance, "2025-01-01", "2025-01-05")
        assert result.success
        # Read while this instance still holds its connections open, by a process of its own.
        reader = (
            "import dagster as dg, sys; "
            "i = dg.DagsterInstance.get(); "
            f"logs = i.all_logs({result.run_id!r}); "
            "days = i.get_materialized_partitions(dg.AssetKey('counted')); "
            "checked = i.event_log_storage.get_asset_check_execution_history("
            "dg.AssetCheckKey(dg.AssetKey('counted'), 'ran'), limit=20); "
            "print(len(logs), ','.join(sorted(days)), "
            "','.join(sorted(c.partition + ':' + c.status.value for c in checked)))"
        )
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
        read = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True, text=True, check=True)
        events, days, checked = read.stdout.split()
        assert int(events) == len(instance.all_logs(result.run_id))
        assert days == "2025-01-01,2025-01-02,2025-01-03,2025-01-04,2025-01-05"
        assert checked == ",".join(f"{day}:SUCCEEDED" for day in days.split(","))


def test_only_the_latest_run_databases_stay_open(dagster_home):
    with open_instance(dagster_home) as instance:
        for day in ("2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05", "2025-01-06"):
            assert ranged_run(instance, day, day).success
        runs = instance.get_runs()
        assert len(runs) == 6
        open_now = open_run_databases(dagster_home / "history" / "runs")
        assert 0 < len(open_now) <= OPEN_RUN_DATABASES
        # Every run still reads back whole, the ones whose database was closed included.
        for run in runs:
            assert any(e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS for e in instance.all_logs(run.run_id))
    assert open_run_databases(dagster_home / "history" / "runs") == []  # disposed with the instance


def test_an_instance_opened_from_another_directory_than_dagster_home_is_refused(dagster_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(dg.DagsterInvariantViolationError, match="set DAGSTER_HOME to the instance's directory"):
        dg.DagsterInstance.from_config(str(dagster_home))
