"""A synthetic daily feed with the reference schema, optional covariate/label drift and injected faults.

Rows are bootstrapped from the reference dataset, so categorical codes and repayment statuses follow
its empirical distribution and each label stays tied to the row it was sampled from (a model can learn
it). Amounts get small multiplicative noise: LIMIT_BAL x lognormal(0, 0.1) rounded to 10,000, each
row's BILL_AMT* and PAY_AMT* x normal(1, 0.05); AGE moves by -1, 0 or +1.

Every day uses its own random streams, seeded by (seed, day): a day's file depends only on the seed,
that day and the knobs, so overlapping or day-by-day runs reproduce the same files. IDs are
`ID_BASE + (day - EPOCH).days * rows_per_day + i`, unique across days and never clashing with the
reference IDs (1..30,000).
"""

from __future__ import annotations

from collections.abc import Callable
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
from medallion.sources.replay import read_reference

EPOCH = date(2000, 1, 1)
ID_BASE = 10_000_000
BILL_COLUMNS = tuple(f"BILL_AMT{i}" for i in range(1, 7))
PAY_AMT_COLUMNS = tuple(f"PAY_AMT{i}" for i in range(1, 7))

# Drift (documented in `generate`).
DRIFT_LIMIT_FACTOR = 0.6
DRIFT_BILL_FACTOR = 1.5
DRIFT_PAY_SHIFT_SHARE = 0.4
DRIFT_AGE_SHIFT = -5
DRIFT_LABEL_FLIP_SHARE = 0.25

FAULT_KINDS = ("non_numeric", "out_of_range", "empty", "duplicate")
# ID is never faulted so every landed outcome still refers to an application.
FAULT_COLUMNS = APPLICATION_COLUMNS[1:]
NON_NUMERIC_VALUES = ("abc", "n/a", "?", "12x")
OUT_OF_RANGE_VALUES = (
    ("AGE", 250),
    ("SEX", 7),
    ("EDUCATION", 9),
    ("MARRIAGE", 8),
    ("PAY_0", 15),
    ("LIMIT_BAL", -50000),
)

Columns = dict[str, np.ndarray]


def generate(
    landing_dir: Path,
    start: date,
    days: int,
    rows_per_day: int,
    drift_from: date | None = None,
    faults: float = 0.0,
    seed: int = 0,
    label_delay_days: int = 30,
    reference: Path = REFERENCE_DATASET,
) -> LandingSummary:
    """Land `days` days of `rows_per_day` synthetic applications from `start`, with outcomes delayed.

    Drift, on every day >= `drift_from`: LIMIT_BAL x0.6, BILL_AMT* x1.5, PAY_0 and PAY_2 +1 (capped at 8)
    for 40% of rows, AGE -5 years (not below 21), and 25% of labels flipped, which raises the default
    rate from about 22% to about 36% and weakens what the features say about it.

    Faults: each row, with probability `faults`, gets exactly one of (chosen by `seed`): a non-numeric
    text (`abc`, `n/a`, ...) in a numeric column, an out-of-range value (AGE=250, SEX=7, ...), an empty
    field, or a duplicate (the row becomes a copy of another row of the day, same ID). Outcomes are
    written once per ID that appears in the day's applications.

    Same arguments give byte-identical files (left untouched); a differing existing file raises
    `LandingConflictError`.
    """
    check_landing_arguments(days, label_delay_days)
    if rows_per_day < 1:
        raise ValueError(f"rows_per_day must be at least 1, got {rows_per_day}")
    if not 0.0 <= faults <= 1.0:
        raise ValueError(f"faults must be a share between 0 and 1, got {faults}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if start < EPOCH:
        raise ValueError(f"start must be on or after {EPOCH} (IDs count days from it), got {start}")
    source = read_reference(reference)
    pool = {c: source[c].to_numpy() for c in source.columns if c != "ID"}
    written = unchanged = 0
    for index in range(days):
        day = start + timedelta(days=index)
        rows = sample_day(pool, day, rows_per_day, seed)
        if drift_from is not None and day >= drift_from:
            apply_drift(rows, day_rng(seed, day, "drift"))
        applications, outcomes = inject_faults(rows, faults, day_rng(seed, day, "faults"))
        new, same = land_day(landing_dir, day, applications, outcomes, label_delay_days)
        written, unchanged = written + new, unchanged + same
    last_day = start + timedelta(days=days - 1)
    return LandingSummary(
        landing_dir=Path(landing_dir),
        days=days,
        rows=days * rows_per_day,
        first_application_day=start,
        last_application_day=last_day,
        last_outcome_day=last_day + timedelta(days=label_delay_days),
        files_written=written,
        files_unchanged=unchanged,
    )


def day_rng(seed: int, day: date, stream: str) -> np.random.Generator:
    stream_number = ("sample", "drift", "faults").index(stream)
    return np.random.default_rng([seed, day.toordinal(), stream_number])


def sample_day(pool: Columns, day: date, rows: int, seed: int) -> Columns:
    """Bootstrap `rows` reference rows and add noise to the amounts; includes ID and the label."""
    rng = day_rng(seed, day, "sample")
    picks = rng.integers(0, len(pool[LABEL]), rows)
    sampled = {c: values[picks] for c, values in pool.items()}
    sampled["ID"] = ID_BASE + (day - EPOCH).days * rows + np.arange(rows, dtype=np.int64)
    limit = sampled["LIMIT_BAL"] * rng.lognormal(0.0, 0.1, rows)
    sampled["LIMIT_BAL"] = _round_limit(limit)
    bill_factor, paid_factor = rng.normal(1.0, 0.05, rows), rng.normal(1.0, 0.05, rows)
    for column in BILL_COLUMNS:
        sampled[column] = np.rint(sampled[column] * bill_factor).astype(np.int64)
    for column in PAY_AMT_COLUMNS:
        sampled[column] = np.maximum(np.rint(sampled[column] * paid_factor), 0).astype(np.int64)
    sampled["AGE"] = np.clip(sampled["AGE"] + rng.integers(-1, 2, rows), 21, 79)
    return sampled


def apply_drift(rows: Columns, rng: np.random.Generator) -> None:
    """Shift covariates and the label relationship in place (see `generate`)."""
    n = len(rows["ID"])
    rows["LIMIT_BAL"] = _round_limit(rows["LIMIT_BAL"] * DRIFT_LIMIT_FACTOR)
    for column in BILL_COLUMNS:
        rows[column] = np.rint(rows[column] * DRIFT_BILL_FACTOR).astype(np.int64)
    shifted = rng.random(n) < DRIFT_PAY_SHIFT_SHARE
    for column in ("PAY_0", "PAY_2"):
        rows[column] = np.where(shifted, np.minimum(rows[column] + 1, 8), rows[column])
    rows["AGE"] = np.maximum(rows["AGE"] + DRIFT_AGE_SHIFT, 21)
    flipped = rng.random(n) < DRIFT_LABEL_FLIP_SHARE
    rows[LABEL] = np.where(flipped, 1 - rows[LABEL], rows[LABEL])


def inject_faults(rows: Columns, faults: float, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The day's applications with faults injected, and its outcomes (ID, label) once per landed ID."""
    n = len(rows["ID"])
    faulted = np.flatnonzero(rng.random(n) < faults) if faults > 0 else np.empty(0, dtype=np.int64)
    kinds = FAULT_KINDS if n > 1 else FAULT_KINDS[:-1]
    kind_of = rng.integers(0, len(kinds), len(faulted))
    by_kind = {kind: faulted[kind_of == i] for i, kind in enumerate(kinds)}
    rows = {c: v.copy() for c, v in rows.items()}
    _duplicate_rows(rows, by_kind.get("duplicate", np.empty(0, dtype=np.int64)), rng)
    _out_of_range(rows, by_kind["out_of_range"], rng)
    applications = pl.DataFrame({c: rows[c].astype(np.int64) for c in APPLICATION_COLUMNS})
    applications = _set_cells(applications, by_kind["empty"], rng, lambda count: [None] * count)
    applications = _set_cells(
        applications, by_kind["non_numeric"], rng, lambda count: [str(v) for v in rng.choice(NON_NUMERIC_VALUES, count)]
    )
    outcomes = pl.DataFrame({"ID": rows["ID"], LABEL: rows[LABEL].astype(np.int64)})
    return applications, outcomes.unique("ID", keep="first", maintain_order=True)


def _duplicate_rows(rows: Columns, targets: np.ndarray, rng: np.random.Generator) -> None:
    # Sources are rows that are not themselves overwritten, so each target really repeats a landed ID.
    is_target = np.zeros(len(rows["ID"]), dtype=bool)
    is_target[targets] = True
    sources_pool = np.flatnonzero(~is_target)
    if len(targets) == 0 or len(sources_pool) == 0:
        return
    sources = sources_pool[rng.integers(0, len(sources_pool), len(targets))]
    for values in rows.values():
        values[targets] = values[sources]


def _out_of_range(rows: Columns, targets: np.ndarray, rng: np.random.Generator) -> None:
    choice = rng.integers(0, len(OUT_OF_RANGE_VALUES), len(targets))
    for i, (column, value) in enumerate(OUT_OF_RANGE_VALUES):
        rows[column][targets[choice == i]] = value


def _set_cells(
    frame: pl.DataFrame, targets: np.ndarray, rng: np.random.Generator, values_for: Callable[[int], list]
) -> pl.DataFrame:
    """Put `values_for(count)` into one random fault column of each target row (text turns the column to String)."""
    if len(targets) == 0:
        return frame
    column_of = rng.integers(0, len(FAULT_COLUMNS), len(targets))
    replaced = []
    for i, column in enumerate(FAULT_COLUMNS):
        where = targets[column_of == i]
        if len(where) == 0:
            continue
        values = values_for(len(where))
        series = frame[column]
        if any(isinstance(v, str) for v in values):
            series = series.cast(pl.String)
        replaced.append(series.scatter(where, values))
    return frame.with_columns(replaced)


def _round_limit(limit: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(limit / 10_000) * 10_000, 10_000).astype(np.int64)
