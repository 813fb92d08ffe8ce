"""Point-in-time training sets: features of a lookback window joined to the labels known on the as-of day."""

from __future__ import annotations

from datetime import date

import polars as pl


class TrainingSetError(ValueError):
    """The window cannot train a model; the message says which days and why."""


def build_training_set(features: pl.DataFrame, labels: pl.DataFrame, as_of: date, key: str, label: str) -> pl.DataFrame:
    """Applications of the window whose label was known on `as_of` (label_date <= as_of), one row each.

    Where an application has several labels known by then, the latest known one is used.
    """
    known = (
        labels.filter(pl.col("label_date") <= as_of)
        .sort("label_date")
        .group_by([key, "application_date"], maintain_order=True)
        .last()
        .select(key, "application_date", "label_date", label)
    )
    return (
        features.rename({"partition_date": "application_date"})
        .join(known, on=[key, "application_date"], how="inner")
        .with_columns(pl.lit(as_of, pl.Date).alias("partition_date"))
        .sort(["application_date", key])
    )


def require_trainable(
    frame: pl.DataFrame, label: str, window: tuple[date, date], as_of: date, labels_asset: str = "gold/labels"
) -> None:
    first, last = window
    if frame.is_empty():
        raise TrainingSetError(
            f"no application between {first} and {last} has a label known on {as_of}: outcomes land label_delay_days "
            f"after the application, so materialize {labels_asset} up to {as_of} or train on a later day"
        )
    classes = frame[label].unique().to_list()
    if len(classes) < 2:
        raise TrainingSetError(
            f"every labelled application between {first} and {last} (known on {as_of}) has {label}={classes[0]}: "
            f"a classifier needs both classes; widen the window or wait for more outcomes"
        )
