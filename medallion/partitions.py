"""The one partitions definition every table shares: a calendar day, named by its date."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

import dagster as dg

START_DATE = os.environ.get("MEDALLION_START_DATE", "2025-01-01")
PARTITION_COLUMN = "partition_date"
# How far back an outcome may point to its application; outcomes older than this are reported as unmatched.
LABEL_MATCH_WINDOW_DAYS = 180

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
single_run_backfill = dg.BackfillPolicy.single_run()


def partition_metadata() -> dict[str, str]:
    return {"partition_expr": PARTITION_COLUMN}


def days_in(window: dg.TimeWindow) -> list[date]:
    return date_range(window.start.date(), window.end.date() - timedelta(days=1))


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def run_window(context) -> tuple[date, date] | None:
    """The run's first and last day, or None when the run targets no partition (then all days count)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start.date(), window.end.date() - timedelta(days=1)


def as_date(partition_key: str) -> date:
    return datetime.strptime(partition_key, "%Y-%m-%d").date()
