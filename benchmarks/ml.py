"""Training on a 90-day window and inference throughput, each beside a baseline."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import numpy as np
import polars as pl

from medallion.logic.etl.features import FEATURE_NAMES, engineer_features
from medallion.settings import REFERENCE_DATASET

LABEL = "default_payment_next_month"


def labelled_window(rows: int = 15_000, days: int = 60) -> pl.DataFrame:
    """Reference rows spread over `days` days: what a 90-day training window holds once 30 days await labels."""
    reference = pl.read_csv(REFERENCE_DATASET).rename({"default payment next month": LABEL}).head(rows)
    day = pl.Series([date(2025, 1, 1) + timedelta(days=i % days) for i in range(reference.height)])
    features = engineer_features(reference.with_columns(day.alias("partition_date")))
    return features.rename({"partition_date": "application_date"}).with_columns(reference[LABEL])


def train_all(frame: pl.DataFrame) -> dict:
    from medallion.logic.ml.training import train_candidates

    result = train_candidates(frame, FEATURE_NAMES, LABEL, seed=0)
    return {
        "best": result.best_name,
        "validation_auc": round(result.best_metrics["roc_auc"], 4),
        **{f"fit_{k}": round(v, 2) for k, v in result.fit_seconds.items()},
    }


def train_baseline(frame: pl.DataFrame) -> dict:
    """One logistic regression, no candidate search: the floor any model-selection step is paid against."""
    from medallion.logic.ml.training import train_candidates

    result = train_candidates(frame, FEATURE_NAMES, LABEL, seed=0, candidates=["logistic_regression"])
    return {"validation_auc": round(result.best_metrics["roc_auc"], 4)}


def fitted_pipeline(frame: pl.DataFrame):
    from medallion.logic.ml.training import build_pipeline, feature_matrix

    return build_pipeline("hist_gradient_boosting", FEATURE_NAMES, 0).fit(
        feature_matrix(frame, FEATURE_NAMES), frame[LABEL].to_numpy()
    )


def scoring_input(rows: int) -> pl.DataFrame:
    reference = pl.read_csv(REFERENCE_DATASET).drop("default payment next month")
    repeated = pl.concat([reference] * (rows // reference.height + 1)).head(rows)
    return engineer_features(repeated.with_columns(pl.lit(date(2025, 6, 1)).alias("partition_date")))


def score_medallion(pipeline, features: pl.DataFrame) -> dict:
    from datetime import datetime

    from medallion.logic.ml.scoring import score_features

    trained_on = (date(2025, 1, 1), date(2025, 3, 1))  # labelled_window's days
    out = score_features(
        pipeline, features, FEATURE_NAMES, "ID", 0.3, "credit_default", "1", "credit-v1", datetime.now(UTC), trained_on
    )
    return {"mean_probability": round(float(out["probability"].mean()), 4)}


def predict_only(pipeline, features: pl.DataFrame) -> dict:
    """The floor of inference: the fitted model's own `predict_proba` on a ready float matrix (built before the
    clock), what any scorer of this model pays at least."""
    import time

    from medallion.logic.ml.training import feature_matrix

    matrix = feature_matrix(features, FEATURE_NAMES)
    started = time.perf_counter()
    probability = pipeline.predict_proba(matrix)[:, 1]
    return {"seconds": time.perf_counter() - started, "mean_probability": round(float(probability.mean()), 4)}


def score_row_by_row(pipeline, features: pl.DataFrame) -> dict:
    """A request-style scorer: one pandas row at a time through predict_proba, as ad-hoc serving code often does."""
    sample = features.select(FEATURE_NAMES).to_pandas()
    probabilities = [pipeline.predict_proba(sample.iloc[[i]].to_numpy())[0, 1] for i in range(len(sample))]
    return {"mean_probability": round(float(np.mean(probabilities)), 4)}
