"""How many days a monitoring window spans: the configured days, grown until it holds the rows the rules need.

A dataset of ~17 applications a day never gathers 200 predictions or 200 matured labels in the default 7 days, so
every decision would say insufficient_data forever. Each window (predictions and features for drift, matured labels
for performance) doubles from the configured days until it holds its minimum or reaches the longest allowed; drift
keeps its own, shorter window when predictions suffice, so a recent shift is not diluted by the label window.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from medallion.logic.monitoring.measures import MEASUREMENT_SCHEMA, trailing_window


@dataclass(frozen=True)
class GrownWindow:
    """A trailing window up to a day, what it was grown for and how many of those rows it holds."""

    purpose: str  # "predictions" or "matured_labels"
    window: tuple[date, date]
    configured_days: int
    rows: int
    needed: int
    max_days: int

    @property
    def days(self) -> int:
        return (self.window[1] - self.window[0]).days + 1

    @property
    def grown(self) -> bool:
        return self.days > self.configured_days

    def note(self) -> str | None:
        """What the decision says about it, or None for a window of the configured days."""
        what = self.purpose.replace("_", " ")
        if not self.grown:
            return None
        reached = (
            f"to reach {self.needed} {what}"
            if self.rows >= self.needed
            else f"towards {self.needed} {what} and holds {self.rows} at its longest (max_window_days)"
        )
        return f"{what} window grown from {self.configured_days} to {self.days} days {reached}"


def grow_window(
    purpose: str,
    day: date,
    configured_days: int,
    max_days: int,
    needed: int,
    count: Callable[[tuple[date, date]], int],
) -> GrownWindow:
    """The configured trailing window up to `day`, doubled until `count` of it reaches `needed` or it spans
    `max_days`; the configured one when even the longest holds nothing."""
    if max_days < configured_days:
        raise ValueError(
            f"max_window_days ({max_days}) must be at least window_days ({configured_days}): a window only grows"
        )
    days = configured_days
    while True:
        window = trailing_window(day, days)
        rows = count(window)
        if rows >= needed or days >= max_days:
            break
        days = min(2 * days, max_days)
    if rows == 0:  # nothing to gather however long: the configured window, not months of empty days
        window = trailing_window(day, configured_days)
    return GrownWindow(purpose, window, configured_days, rows, needed, max_days)


def window_rows(day: date, measured: tuple[date, date], windows: Sequence[GrownWindow]) -> pl.DataFrame:
    """ml.monitoring rows (kind 'window') saying how long each window is and why: value the days, reference_value the
    configured days, n the rows it holds of what it was grown for, level the note the decision repeats."""
    rows = [
        {
            "partition_date": day,
            "window_start": measured[0],
            "window_end": measured[1],
            "kind": "window",
            "subject": window.purpose,
            "day": window.window[0],
            "value": float(window.days),
            "reference_value": float(window.configured_days),
            "n": window.rows,
            "level": window.note(),
        }
        for window in windows
    ]
    return pl.DataFrame(rows, schema=MEASUREMENT_SCHEMA)
