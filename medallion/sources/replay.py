"""Replay the reference dataset as a daily feed.

The UCI dataset has no dates, so the assignment of rows to days is synthetic and deterministic:
each row's ID is hashed with SplitMix64 (ID xor `ASSIGNMENT_SALT`, a fixed constant), rows are
sorted by (hash, ID), and that order is cut into `days` contiguous chunks whose sizes differ by at
most one (the first `rows % days` days get one row more). Every row lands exactly once and each day
is a random-looking sample rather than a block of consecutive IDs. Within a day, rows are written in
ID order.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from medallion.settings import REFERENCE_DATASET
from medallion.sources.landing import (
    APPLICATION_COLUMNS,
    LABEL,
    LandingSummary,
    check_landing_arguments,
    land_day,
)

REFERENCE_LABEL = "default payment next month"
ASSIGNMENT_SALT = 0x6D656461_6C6C696F  # "medallio"; changing it reshuffles every replayed day


def read_reference(reference: Path = REFERENCE_DATASET) -> pl.DataFrame:
    """The reference dataset with the label renamed to the landing name `default_payment_next_month`."""
    frame = pl.read_csv(reference, schema_overrides={c: pl.Int64 for c in (*APPLICATION_COLUMNS, REFERENCE_LABEL)})
    missing = [c for c in (*APPLICATION_COLUMNS, REFERENCE_LABEL) if c not in frame.columns]
    if missing:
        raise ValueError(f"reference dataset {reference} lacks column(s) {missing}")
    return frame.select(*APPLICATION_COLUMNS, pl.col(REFERENCE_LABEL).alias(LABEL))


def splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fixed, platform-independent scrambling of 64-bit integers."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def assign_days(ids: np.ndarray, days: int) -> np.ndarray:
    """Day index (0..days-1) of each ID, following the rule in the module docstring."""
    ids = np.asarray(ids, dtype=np.int64)
    hashes = splitmix64(ids.astype(np.uint64) ^ np.uint64(ASSIGNMENT_SALT))
    order = np.lexsort((ids, hashes))
    base, extra = divmod(len(ids), days)
    chunk_sizes = np.full(days, base, dtype=np.int64)
    chunk_sizes[:extra] += 1
    day_index = np.empty(len(ids), dtype=np.int64)
    day_index[order] = np.repeat(np.arange(days, dtype=np.int64), chunk_sizes)
    return day_index


def replay(
    landing_dir: Path,
    start: date,
    days: int,
    label_delay_days: int = 30,
    reference: Path = REFERENCE_DATASET,
) -> LandingSummary:
    """Spread every reference row over `days` days from `start` and land applications and delayed outcomes.

    Idempotent: a second run with the same arguments finds byte-identical files and leaves them alone;
    a file that exists with different content raises `LandingConflictError`.
    """
    check_landing_arguments(days, label_delay_days)
    frame = read_reference(reference)
    if frame.height < days:
        raise ValueError(
            f"cannot spread {frame.height} reference rows over {days} days; use at most {frame.height} days"
        )
    if frame["ID"].n_unique() != frame.height:
        raise ValueError(f"reference dataset {reference} has duplicate IDs; the day assignment needs unique IDs")
    frame = frame.with_columns(pl.Series("_day", assign_days(frame["ID"].to_numpy(), days))).sort("_day", "ID")
    written = unchanged = 0
    for (index,), day_rows in frame.group_by("_day", maintain_order=True):
        day = start + timedelta(days=int(index))
        new, same = land_day(
            landing_dir,
            day,
            applications=day_rows.select(APPLICATION_COLUMNS),
            outcomes=day_rows.select("ID", LABEL),
            label_delay_days=label_delay_days,
        )
        written, unchanged = written + new, unchanged + same
    last_day = start + timedelta(days=days - 1)
    return LandingSummary(
        landing_dir=Path(landing_dir),
        days=days,
        rows=frame.height,
        first_application_day=start,
        last_application_day=last_day,
        last_outcome_day=last_day + timedelta(days=label_delay_days),
        files_written=written,
        files_unchanged=unchanged,
    )
