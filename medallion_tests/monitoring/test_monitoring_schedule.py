"""monitoring_weekly_schedule: Sundays 06:00 UTC, for the day before."""

from datetime import UTC, datetime

import dagster as dg

from medallion.definitions import build_definitions


def test_sunday_morning_monitors_saturday(home):
    defs = build_definitions(home)
    schedule = defs.get_repository_def().get_schedule_def("monitoring_weekly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "0 6 * * 0",
        "UTC",
        "monitoring_job",
    )
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 9, 6, tzinfo=UTC), repository_def=defs.get_repository_def()
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert (request.partition_key, request.run_key) == ("2025-03-08", "monitoring-2025-03-08")


def test_the_monitoring_job_runs_monitoring_then_the_decision(home):
    job = build_definitions(home).resolve_job_def("monitoring_job")
    keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert keys == {"ml/monitoring", "ml/retrain_decision"}
