"""Calendar days: partition keys are ISO dates, windows are inclusive ranges of days."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta


def date_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def days_in(start: datetime, end: datetime) -> list[date]:
    """The days of a half-open time window [start, end), such as a partition time window."""
    return date_range(start.date(), end.date() - timedelta(days=1))


def as_date(partition_key: str) -> date:
    return datetime.strptime(partition_key, "%Y-%m-%d").date()


def day_spans(days: list[date]) -> str:
    """Sorted days as runs of consecutive days: `2025-01-01..2025-01-30, 2025-03-02`."""
    spans: list[list[date]] = []
    for day in sorted(days):
        if spans and day - spans[-1][1] == timedelta(days=1):
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in spans)


def pack_days(rows_by_day: Mapping[date, int], budget: int) -> list[list[date]]:
    """The days, in order, as runs of consecutive days holding at most `budget` rows each (a day with more is a run of
    its own): a ranged step reads, transforms and commits one run at a time, so its memory follows rows, not days."""
    if budget < 1:
        raise ValueError(f"a slice holds at least one row, got {budget}")
    slices: list[list[date]] = []
    held = 0
    for day in sorted(rows_by_day):
        rows = rows_by_day[day]
        if not slices or held + rows > budget:
            slices.append([])
            held = 0
        slices[-1].append(day)
        held += rows
    return slices
