"""The real schedules, evaluated at a fixed tick."""

from datetime import UTC, datetime

import dagster as dg
import pytest


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_etl_schedule_runs_at_one_utc(defs):
    schedule = defs.resolve_schedule_def("etl_daily_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "etl_job"


def test_etl_schedule_requests_the_previous_day(defs, instance):
    schedule = defs.resolve_schedule_def("etl_daily_schedule")
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2025, 3, 10, 1, 0, tzinfo=UTC)
    ) as context:
        data = schedule.evaluate_tick(context)
    assert data.skip_message is None
    [request] = data.run_requests
    assert request.partition_key == "2025-03-09"
    assert request.tags["dagster/partition"] == "2025-03-09"
    assert request.job_name in (None, "etl_job")
    assert request.tags["dagster/schedule_name"] == "etl_daily_schedule"


def test_etl_schedule_at_the_first_of_the_month_requests_the_last_day_of_the_previous(defs, instance):
    schedule = defs.resolve_schedule_def("etl_daily_schedule")
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    ) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2025-02-28"


def test_freshness_schedule_targets_the_freshness_job(defs):
    schedule = defs.resolve_schedule_def("freshness_check_schedule")
    assert schedule.job_name == "freshness_check_job"
    assert schedule.execution_timezone == "UTC"
    job = defs.resolve_job_def("freshness_check_job")
    checks = {key.name for key in job.asset_layer.asset_graph.asset_check_keys}
    assert checks == {"freshness_check"}
