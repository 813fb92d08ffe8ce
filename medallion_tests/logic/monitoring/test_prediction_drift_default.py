"""Finding 2: `prediction_drift`'s default threshold, chosen from how it fires on the project's own drift and without.

A feed from `medallion generate` at 250 rows a day (the demo's size) that drifts (`--drift-from`) after 26 weeks;
a gradient-boosting model on the project's features (`engineer_features`) fit on 8 weeks, its holdout week's
probabilities as the prediction reference, as the monitoring asset uses them. Each later week (7 days, 1,750
predictions, the default monitoring window) is judged by `decide_retrain`: 16 weeks without drift, 16 with it.
Concept drift alone (labels flipped, features unchanged) is the README's stated limit: no label-free rule sees it.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from medallion.logic.etl.features import FEATURE_NAMES, engineer_features
from medallion.logic.ml.training import build_pipeline, feature_matrix
from medallion.logic.monitoring.decision import RetrainRules, decide_retrain
from medallion.logic.monitoring.drift import build_reference, load_reference, psi_critical_value
from medallion.sources.generate import generate
from medallion.sources.landing import APPLICATIONS

START, ROWS_PER_DAY = date(2025, 1, 1), 250
FIT_WEEKS, HOLDOUT_WEEKS, QUIET_WEEKS, DRIFT_WEEKS = 8, 1, 17, 16
DRIFT_FROM = START + timedelta(weeks=FIT_WEEKS + HOLDOUT_WEEKS + QUIET_WEEKS)
THRESHOLDS = (0.25, 0.1, 0.05)


def weekly(features: pl.DataFrame, first_week: int, weeks: int) -> list[pl.DataFrame]:
    return [
        features.filter(
            pl.col("partition_date").is_between(START + timedelta(weeks=w), START + timedelta(weeks=w + 1, days=-1))
        )
        for w in range(first_week, first_week + weeks)
    ]


@pytest.fixture(scope="module")
def prediction_psi_by_week(tmp_path_factory):
    landing = tmp_path_factory.mktemp("prediction_drift")
    weeks = FIT_WEEKS + HOLDOUT_WEEKS + QUIET_WEEKS + DRIFT_WEEKS
    generate(landing, START, 7 * weeks, ROWS_PER_DAY, drift_from=DRIFT_FROM, seed=21, label_delay_days=0)
    applications = pl.concat(
        [
            pl.read_csv(path).with_columns(pl.lit(date.fromisoformat(path.parent.name)).alias("partition_date"))
            for path in sorted((landing / APPLICATIONS).glob("*/*.csv"))
        ]
    )
    outcomes = pl.concat([pl.read_csv(path) for path in sorted((landing / "outcomes").glob("*/*.csv"))])
    features = engineer_features(applications).join(outcomes.select("ID", "default_payment_next_month"), on="ID")
    fit = pl.concat(weekly(features, 0, FIT_WEEKS))
    model = build_pipeline("hist_gradient_boosting", FEATURE_NAMES, seed=0)
    model.fit(feature_matrix(fit, FEATURE_NAMES), fit["default_payment_next_month"].to_numpy())

    def probabilities(frame: pl.DataFrame) -> np.ndarray:
        return model.predict_proba(feature_matrix(frame, FEATURE_NAMES))[:, 1]

    holdout = probabilities(weekly(features, FIT_WEEKS, HOLDOUT_WEEKS)[0])
    reference = load_reference(build_reference(pl.DataFrame({"probability": holdout}), ["probability"]))["probability"]
    quiet = weekly(features, FIT_WEEKS + HOLDOUT_WEEKS, QUIET_WEEKS)
    drifted = weekly(features, FIT_WEEKS + HOLDOUT_WEEKS + QUIET_WEEKS, DRIFT_WEEKS)
    # Concept drift alone: the quiet weeks' features with a quarter of their labels flipped score the same.
    measured = {}
    for name, frames in (("no_drift", quiet), ("drift", drifted)):
        psis = [reference.psi(probabilities(frame)) for frame in frames]
        measured[name] = [(psi, reference.p_value(psi, frame.height)) for psi, frame in zip(psis, frames, strict=True)]
    return measured


def fired_share(measured: list[tuple[float, float]], threshold: float) -> float:
    rules = RetrainRules(prediction_psi_threshold=threshold)
    fired = [
        "prediction_drift"
        in decide_retrain(
            decision_date="2025-09-01",
            model_version="1",
            holdout_auc=None,
            live_auc=None,
            matured_labels=0,
            n_predictions=7 * ROWS_PER_DAY,
            prediction_psi=psi,
            prediction_psi_p_value=p_value,
            feature_psi={},
            rules=rules,
        ).triggered_rules
        for psi, p_value in measured
    ]
    return float(np.mean(fired))


def test_the_default_prediction_drift_threshold_fires_on_the_projects_drift_and_not_without(prediction_psi_by_week):
    rates = {
        threshold: {name: fired_share(weeks, threshold) for name, weeks in prediction_psi_by_week.items()}
        for threshold in THRESHOLDS
    }
    psis = {name: [round(psi, 3) for psi, _ in weeks] for name, weeks in prediction_psi_by_week.items()}
    print(f"\nweekly prediction PSI at {7 * ROWS_PER_DAY} predictions: {psis}\nshare of weeks fired: {rates}")
    default = RetrainRules().prediction_psi_threshold
    assert rates[default]["drift"] == 1.0
    assert rates[default]["no_drift"] == 0.0
    # Noise alone (1,750 predictions against 1,750 holdout ones, 10 bins) passes 0.05 in fewer than 1 in 10,000 weeks.
    assert psi_critical_value(np.full(10, 0.1), 7 * ROWS_PER_DAY, 7 * ROWS_PER_DAY, 1e-4) < default
