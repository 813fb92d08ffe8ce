"""The label store: outcomes matched to the application they resolve, dated when they became known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

# How far back an outcome may point to its application; outcomes older than this are reported as unmatched.
LABEL_MATCH_WINDOW_DAYS = 180
NO_APPLICATION = "no_application"
NOT_MATURE = "not_mature"


@dataclass(frozen=True)
class LabelResult:
    labels: pl.DataFrame
    unmatched: pl.DataFrame  # the outcome rows with a `reason`: no_application or not_mature


def build_labels(
    outcomes: pl.DataFrame,
    applications: pl.DataFrame,
    key: str,
    label: str,
    label_time: str,
    application_time: str | None = None,
    maturity_days: int = 0,
    positive: Any = None,
    window_days: int = LABEL_MATCH_WINDOW_DAYS,
) -> LabelResult:
    """Match each outcome (landed on `partition_date`, the day it became known) to the application it resolves.

    An outcome naming its application's day (`application_time`) matches the application of that key on that day
    only; one that does not name it matches the latest application of its key at least `maturity_days` before it,
    so a key that re-applied within the label delay does not take the older application's outcome. Either way the
    application must be at least `maturity_days` and at most `window_days` old when the outcome lands, whatever other
    applications `applications` holds (a ranged run's slice reads a window for all its days). Outcomes that match
    nothing are returned as `unmatched` with the reason, never guessed. The label is stored as 1 where it equals
    `positive`, else 0; without `positive`, as it landed.
    """
    applied = pl.col(application_time).cast(pl.Date) if application_time in outcomes.columns else pl.lit(None, pl.Date)
    known = outcomes.with_row_index("_row").select(
        "_row",
        "partition_date",
        pl.col(key),
        pl.col("partition_date").alias("label_date"),
        pl.col(label) if positive is None else (pl.col(label) == positive).cast(pl.Int8).alias(label),
        pl.col(label_time),
        applied.alias("_applied"),
    )
    days = applications.select(pl.col(key), pl.col("partition_date").alias("application_date")).unique()
    age = (pl.col("label_date") - pl.col("application_date")).dt.total_days()
    old_enough, in_window = age >= maturity_days, age <= window_days
    named = known.filter(pl.col("_applied").is_not_null()).join(
        days, left_on=[key, "_applied"], right_on=[key, "application_date"], how="inner"
    )
    named = named.with_columns(pl.col("_applied").alias("application_date")).filter(in_window)
    unnamed = (
        known.filter(pl.col("_applied").is_null())
        .join(days, on=key, how="inner")
        .filter(old_enough & in_window)
        .sort("application_date")
        .group_by("_row", maintain_order=True)
        .last()
    )
    columns = ["_row", "partition_date", key, "application_date", "label_date", label, label_time]
    candidates = pl.concat([named.select(columns), unnamed.select(columns)])
    matched = candidates.filter(old_enough)
    labels = matched.drop("_row").sort(["partition_date", key, "application_date"])
    immature = candidates.filter(~old_enough).select("_row")
    unmatched = (
        known.join(matched.select("_row"), on="_row", how="anti")
        .with_columns(
            pl.when(pl.col("_row").is_in(immature["_row"].implode()))
            .then(pl.lit(NOT_MATURE))
            .otherwise(pl.lit(NO_APPLICATION))
            .alias("reason")
        )
        .drop("_row", "_applied")
    )
    return LabelResult(labels=labels, unmatched=unmatched)
