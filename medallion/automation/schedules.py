"""Schedules: the daily ETL for the day before, and the freshness deadline."""

from __future__ import annotations

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
