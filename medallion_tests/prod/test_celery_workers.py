"""Runs on Celery workers: an ETL backfill submitted through the webserver (as `medallion prod-run` and the asset
graph's Materialize do) is split by the daemon into runs of DAYS_PER_RUN days that both workers execute; the lake
then equals a clean local run. A worker killed mid-run leaves a failed run, days that hold their previous rows, and a
re-execution that gives the clean tables. With Redis down, a run fails at once naming the broker."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import dagster as dg
import pytest

from medallion.names import WORKER_TAG
from medallion.settings import Settings
from medallion.tools.prod_backfill import Webserver
from medallion.tools.prod_stack import LOCATION
from medallion_tests.faults.conftest import COMPARED, clean_home, run, tables
from medallion_tests.prod.conftest import (
    DAYS_PER_RUN,
    LAST_DAY,
    START,
    instance_of,
    lake_tables,
    land,
)
from medallion_tests.servers import poll

FAILURE = dg.DagsterRunStatus.FAILURE


@pytest.fixture(scope="module")
def backfill(stack):
    """The 20 days of etl_job, as `medallion prod-run etl_job` submits them."""
    return stack.run("etl_job", START.isoformat(), LAST_DAY.isoformat(), timeout=900)


def clean_run(stack, root) -> Settings:
    """A local home that only ever saw the stack's landing zone as it is now, with the ETL run over it in process."""
    clean = clean_home(Settings(home=stack.home, env="local"), root)
    assert run(clean, START, LAST_DAY).success
    return clean


DAYS = [START + timedelta(days=i) for i in range((LAST_DAY - START).days + 1)]


def test_a_20_day_backfill_runs_as_runs_of_bounded_days_on_both_workers(stack, backfill):
    assert backfill.succeeded, failures(backfill)
    # 20 days in runs of 10 (gold.labels, which looks back into silver, in runs of its own after the silver days)
    chunks = [DAYS[i : i + DAYS_PER_RUN] for i in range(0, len(DAYS), DAYS_PER_RUN)]
    assert {run.days for run in backfill.runs} == {f"{chunk[0]}...{chunk[-1]}" for chunk in chunks}
    assert len(backfill.runs) > len(chunks)
    workers = {stack.worker_name(f"worker{i}") for i in (1, 2)}
    assert {run.worker for run in backfill.runs} == workers
    with instance_of(stack) as instance:  # each run says which worker ran it, as the UI shows
        records = [instance.get_run_record_by_id(run.run_id) for run in backfill.runs]
        assert {record.dagster_run.tags[WORKER_TAG] for record in records} == workers
        # the workers ran at once: some run started before another one ended
        stats = [instance.get_run_stats(record.dagster_run.run_id) for record in records]
        assert any(a.start_time < b.end_time and b.start_time < a.end_time for a in stats for b in stats if a is not b)


def test_the_lake_equals_a_clean_local_run_of_the_same_days(stack, backfill, tmp_path):
    assert backfill.succeeded
    expected = tables(clean_run(stack, tmp_path / "clean"))
    assert set(expected) == set(COMPARED) and expected["gold.labels"]
    assert lake_tables(stack) == expected


def test_a_worker_killed_mid_run_fails_its_run_keeps_whole_days_and_a_reexecution_heals(stack, backfill, tmp_path):
    assert backfill.succeeded
    before = {day: lake_tables(stack, day) for day in DAYS}
    land(stack.home / "landing", seed=4)  # every day delivered again, with other rows
    clean = clean_run(stack, tmp_path / "clean")
    webserver = Webserver(stack.webserver_url, LOCATION)
    backfill_id = webserver.submit("etl_job", START, LAST_DAY)

    with instance_of(stack) as instance:
        run_id, service = poll(lambda: _mid_run(stack, instance, backfill_id), "no run wrote a day", 600)
        os.killpg(stack.pid(service), signal.SIGKILL)  # the worker with the run's process, as a lost host
        poll(lambda: instance.get_run_by_id(run_id).status == FAILURE, "the killed run is not marked failed", 300)
        failure = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[-1]
        assert f"{stack.worker_name(service)} does not answer" in failure.event_log_entry.message
    stack.restart(service)
    outcome = webserver.wait(backfill_id, timeout=900)
    assert outcome.status == "COMPLETED_FAILED"
    assert [run.status for run in outcome.runs if run.run_id == run_id] == ["FAILURE"]
    for day in DAYS:  # each day of each table holds its previous rows or its new ones, never a mix
        now, new = lake_tables(stack, day), tables(clean, day)
        for name, rows in now.items():
            assert rows in (before[day][name], new[name]), (name, day)

    retried = webserver.wait(webserver.retry(backfill_id), timeout=900)  # the UI's "re-execute from failure"
    assert retried.succeeded, failures(retried)
    assert lake_tables(stack) == tables(clean)


def test_with_redis_down_a_run_fails_at_once_naming_the_broker(stack):
    webserver = Webserver(stack.webserver_url, LOCATION)
    password = stack.redis.url().split(":")[2].split("@")[0]
    stack.stop("redis")
    try:
        outcome = webserver.wait(webserver.submit("etl_job", START, START), timeout=300)
    finally:
        stack.restart("redis")
        for service in ("worker1", "worker2"):  # reconnect at once rather than after the workers' back-off
            stack.restart(service)
    assert [run.status for run in outcome.runs] == ["FAILURE"]
    failure = outcome.runs[0].failure
    assert f"the Celery broker redis://:**@127.0.0.1:{stack.ports.redis}/0 (CELERY_BROKER_URL) cannot be" in failure
    assert password not in failure


def failures(outcome) -> list[tuple[str, str, str | None]]:
    return [(run.days, run.status, run.failure) for run in outcome.runs if run.status != "SUCCESS"] + [outcome.status]


def _mid_run(stack, instance: dg.DagsterInstance, backfill_id: str) -> tuple[str, str] | None:
    """A run of the backfill that has committed a day and is still running, with its worker frozen (SIGSTOP), so
    that it is still mid-run when the caller kills it: (run id, worker service)."""
    for record in instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id})):
        found = record.dagster_run
        worker = found.tags.get(WORKER_TAG)
        if found.status != dg.DagsterRunStatus.STARTED or worker is None:
            continue
        if not instance.get_records_for_run(found.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
            continue
        service = worker.split("@")[0]
        os.killpg(stack.pid(service), signal.SIGSTOP)
        if instance.get_run_by_id(found.run_id).status == dg.DagsterRunStatus.STARTED:
            return found.run_id, service
        os.killpg(stack.pid(service), signal.SIGCONT)  # it ended meanwhile: look again
    return None
