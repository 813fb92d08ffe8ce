"""The label store: outcomes matched to the application they resolve, dated when they became known."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# How far back an outcome may point to its application; outcomes older than this are reported as unmatched.
LABEL_MATCH_WINDOW_DAYS = 180


@dataclass(frozen=True)
class LabelResult:
    labels: pl.DataFrame
    unmatched: pl.DataFrame


def build_labels(
    outcomes: pl.DataFrame, applications: pl.DataFrame, key: str, label: str, label_time: str
) -> LabelResult:
    """Join each outcome (landed on `partition_date`, the day it became known) to the latest application of its key
    on or before that day. Outcomes with no such application are returned as `unmatched`, never guessed."""
    known = outcomes.select(
        "partition_date",
        pl.col(key),
        pl.col("partition_date").alias("label_date"),
        pl.col(label),
        pl.col(label_time),
    )
    applied = applications.select(pl.col(key), pl.col("partition_date").alias("application_date")).unique()
    candidates = known.join(applied, on=key, how="left").filter(
        pl.col("application_date").is_null() | (pl.col("application_date") <= pl.col("label_date"))
    )
    matched = (
        candidates.filter(pl.col("application_date").is_not_null())
        .sort("application_date")
        .group_by(["partition_date", key], maintain_order=True)
        .last()
    )
    labels = matched.select("partition_date", key, "application_date", "label_date", label, label_time).sort(
        ["partition_date", key]
    )
    unmatched = known.join(labels.select("partition_date", key), on=["partition_date", key], how="anti")
    return LabelResult(labels=labels, unmatched=unmatched)
