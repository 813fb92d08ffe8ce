"""Schedules: the daily ETL for the day before, and the freshness deadline."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg


def build_etl_schedule(etl_job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        etl_job,
        name="etl_daily_schedule",
        hour_of_day=1,
        minute_of_hour=0,
        description="01:00 UTC: the ETL for the previous day's partition.",
    )


def build_freshness_schedule(freshness_job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="freshness_check_schedule",
        job=freshness_job,
        cron_schedule="0 4 * * *",
        execution_timezone="UTC",
        description="04:00 UTC: yesterday's gold partitions must exist by 03:00 UTC.",
    )


def weekly_latest_day_schedule(
    name: str, job: dg.JobDefinition, hour: int, run_key_prefix: str, description: str
) -> dg.ScheduleDefinition:
    """Sundays at `hour` UTC, for the latest complete partition (the day before)."""

    @dg.schedule(name=name, job=job, cron_schedule=f"0 {hour} * * 0", execution_timezone="UTC", description=description)
    def weekly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        latest_day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
        return dg.RunRequest(run_key=f"{run_key_prefix}-{latest_day}", partition_key=latest_day)

    return weekly


def build_training_schedule(training_job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return weekly_latest_day_schedule(
        "training_weekly_schedule",
        training_job,
        5,
        "training",
        "Sundays 05:00 UTC: train, evaluate and promote for the latest complete day (the day before).",
    )


def build_inference_schedule(inference_job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        inference_job,
        name="inference_daily_schedule",
        hour_of_day=2,
        minute_of_hour=0,
        description="02:00 UTC, after the ETL: predictions for the previous day with the champion.",
    )


def build_monitoring_schedule(monitoring_job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return weekly_latest_day_schedule(
        "monitoring_weekly_schedule",
        monitoring_job,
        6,
        "monitoring",
        "Sundays 06:00 UTC: monitoring and the retrain decision for the latest complete day (the day before).",
    )
