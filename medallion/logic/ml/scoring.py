"""Scoring: the one function that turns gold features into predictions, for partitions and ad-hoc files alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from medallion.logic.ml.training import feature_matrix

PREDICTION_SCHEMA = {
    "partition_date": pl.Date,
    "probability": pl.Float64,
    "predicted_label": pl.Int8,
    "model_name": pl.String,
    "model_version": pl.String,
    "feature_set_version": pl.String,
    "in_sample": pl.Boolean,
    "scored_at": pl.Datetime("us", "UTC"),
}


def score_features(
    pipeline: Any,
    features: pl.DataFrame,
    feature_names: Sequence[str],
    key: str,
    threshold: float,
    model_name: str,
    model_version: str,
    feature_set_version: str,
    scored_at: datetime,
    used_days: tuple[date, date],
) -> pl.DataFrame:
    """Probability and label at `threshold` per row; `in_sample` is true on the days the version was fitted, tuned
    or measured on (`used_days`, inclusive), whose numbers are not live performance."""
    probability = pipeline.predict_proba(feature_matrix(features, feature_names))[:, 1] if features.height else []
    return (
        features.select("partition_date", key)
        .with_columns(
            pl.Series("probability", probability, dtype=pl.Float64),
        )
        .with_columns(
            (pl.col("probability") >= threshold).cast(pl.Int8).alias("predicted_label"),
            pl.lit(model_name).alias("model_name"),
            pl.lit(str(model_version)).alias("model_version"),
            pl.lit(feature_set_version).alias("feature_set_version"),
            pl.col("partition_date").is_between(*used_days).fill_null(False).alias("in_sample"),
            pl.lit(scored_at, PREDICTION_SCHEMA["scored_at"]).alias("scored_at"),
        )
    )
