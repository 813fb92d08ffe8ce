"""The monitoring measures on hand-made frames: late-label performance per version, calibration, quality trends."""

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest

from medallion.logic.monitoring.decision import RetrainRules, decide_retrain
from medallion.logic.monitoring.drift import FeatureReference, build_reference, load_reference
from medallion.logic.monitoring.measures import (
    DEPLOYED,
    MATURED_SCHEMA,
    Holdout,
    auc_by_day,
    calibration_table,
    decision_inputs,
    join_matured,
    measure_window,
    null_rate_trend,
    performance_by_version,
    prediction_drift,
    quarantine_trend,
    trailing_window,
)
from medallion.logic.monitoring.report import monitoring_markdown, plot_monitoring

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


def predictions(rows) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"partition_date": pl.Date, "ID": pl.Int64, "probability": pl.Float64, "model_version": pl.String},
        orient="row",
    )


def labels(rows) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "ID": pl.Int64,
            "application_date": pl.Date,
            "label_date": pl.Date,
            "default_payment_next_month": pl.Int8,
        },
        orient="row",
    )


@pytest.fixture
def matured() -> pl.DataFrame:
    scored = predictions(
        [
            (D1, 1, 0.10, "1"),
            (D1, 2, 0.40, "1"),
            (D1, 3, 0.35, "1"),
            (D2, 4, 0.80, "1"),
            (D2, 5, 0.20, "2"),
            (D2, 6, 0.90, "2"),
            (D3, 7, 0.30, "2"),
        ]
    )
    known = labels(
        [
            (1, D1, D3, 0),
            (2, D1, D3, 0),
            (3, D1, D3, 1),
            (4, D2, D3, 1),
            (5, D2, D3, 0),
            (6, D2, D3, 1),
            (7, D1, D3, 1),  # ID 7 applied on D1 by this label, but was scored on D3: not the same application
            (99, D1, D3, 1),  # never scored
        ]
    )
    return join_matured(scored, known, "ID", "default_payment_next_month")


def test_trailing_window_ends_on_the_day():
    assert trailing_window(date(2025, 3, 7), 7) == (date(2025, 3, 1), date(2025, 3, 7))
    with pytest.raises(ValueError, match="at least 1 day"):
        trailing_window(D1, 0)


def test_labels_match_on_key_and_application_day(matured):
    assert matured.height == 6
    assert sorted(matured["probability"].to_list()) == [0.10, 0.20, 0.35, 0.40, 0.80, 0.90]


def test_late_label_auc_and_brier_per_version(matured):
    performance = {r["model_version"]: r for r in performance_by_version(matured).iter_rows(named=True)}
    # v1: positives 0.35 and 0.80 against negatives 0.10 and 0.40 → 3 of 4 pairs ranked right.
    assert performance["1"]["roc_auc"] == pytest.approx(0.75)
    assert performance["1"]["brier"] == pytest.approx((0.1**2 + 0.4**2 + 0.65**2 + 0.2**2) / 4)
    assert performance["1"]["matured_labels"] == 4
    assert performance["2"]["roc_auc"] == pytest.approx(1.0)
    assert performance["2"]["positive_rate"] == pytest.approx(0.5)


def test_auc_is_undefined_with_one_class():
    one_class = join_matured(
        predictions([(D1, 1, 0.2, "1"), (D1, 2, 0.3, "1")]),
        labels([(1, D1, D2, 0), (2, D1, D2, 0)]),
        "ID",
        "default_payment_next_month",
    )
    assert performance_by_version(one_class)["roc_auc"].to_list() == [None]


def test_auc_by_day_splits_versions_and_days(matured):
    daily = auc_by_day(matured)
    assert daily.select("day", "model_version", "n").rows() == [(D1, "1", 3), (D2, "1", 1), (D2, "2", 2)]
    assert daily.filter(pl.col("day") == D1)["roc_auc"][0] == pytest.approx(0.5)  # 0.35 beats 0.10, not 0.40
    assert daily.filter((pl.col("day") == D2) & (pl.col("model_version") == "1"))["roc_auc"][0] is None


def test_calibration_deciles_compare_mean_prediction_with_observed_rate():
    probability = np.linspace(0.05, 0.95, 20)
    frame = pl.DataFrame(
        {
            "partition_date": [D1] * 20,
            "model_version": ["1"] * 20,
            "probability": probability,
            "label": pl.Series([0] * 10 + [1] * 10, dtype=pl.Int8),
        }
    )
    table = calibration_table(frame, n_bins=2)
    assert table["n"].to_list() == [10, 10]
    assert table["observed_rate"].to_list() == [0.0, 1.0]
    assert table["mean_predicted"].to_list() == pytest.approx([probability[:10].mean(), probability[10:].mean()])


def test_quarantine_rate_per_day_and_feed():
    bronze = pl.DataFrame({"partition_date": [D1, D2], "feed": ["applications"] * 2, "rows": [100, 50]})
    quarantined = pl.DataFrame({"partition_date": [D1, D3], "feed": ["applications"] * 2, "rows": [5, 2]})
    trend = quarantine_trend(bronze, quarantined)
    assert trend.select("partition_date", "rows", "quarantined", "quarantine_rate").rows() == [
        (D1, 100, 5, 0.05),
        (D2, 50, 0, 0.0),
        (D3, 0, 2, None),
    ]


def test_null_rates_per_day_and_feature():
    features = pl.DataFrame(
        {"partition_date": [D1, D1, D1, D1, D2], "a": [1.0, None, None, 2.0, 3.0], "b": [1.0, 1.0, 1.0, 1.0, None]}
    )
    trend = null_rate_trend(features, ["a", "b"])
    assert trend.select("partition_date", "feature", "null_rate").rows() == [
        (D1, "a", 0.5),
        (D1, "b", 0.0),
        (D2, "a", 0.0),
        (D2, "b", 1.0),
    ]


def test_prediction_psi_per_version_against_its_own_reference():
    rng = np.random.default_rng(0)
    reference = load_reference(
        build_reference(pl.DataFrame({"probability": rng.uniform(0, 0.5, 2000)}), ["probability"])
    )["probability"]
    same = [(D1, i, float(p), "1") for i, p in enumerate(rng.uniform(0, 0.5, 1000))]
    shifted = [(D1, 5000 + i, float(p), "2") for i, p in enumerate(rng.uniform(0.4, 0.9, 1000))]
    drift = prediction_drift(predictions(same + shifted), {"1": reference, "2": reference, "3": reference})
    psi = dict(drift.select("model_version", "psi").rows())
    assert set(psi) == {"1", "2"}
    assert psi["1"] < 0.1 and psi["2"] > 0.25
    assert drift.filter(pl.col("model_version") == "2")["level"][0] == "major"


def _window(
    matured: pl.DataFrame, scored: pl.DataFrame, features: pl.DataFrame, reference: dict[str, FeatureReference] | None
):
    counts = pl.DataFrame(schema={"partition_date": pl.Date, "feed": pl.String, "rows": pl.Int64})
    return measure_window(D3, (D1, D3), scored, matured, features, ["x"], reference, {}, "1", 0.8, counts, counts)


def test_measurements_round_trip_into_the_decision_inputs(matured, tmp_path):
    rng = np.random.default_rng(1)
    features = pl.DataFrame({"partition_date": [D1] * 500, "x": rng.normal(3, 1, 500)})
    reference = load_reference(build_reference(pl.DataFrame({"x": rng.normal(0, 1, 500)}), ["x"]))
    scored = predictions([(D1, i, 0.3, "1") for i in range(250)] + [(D1, 1000 + i, 0.3, "2") for i in range(50)])
    measures = _window(matured, scored, features, reference)
    frame = measures.to_frame()
    assert set(frame["kind"]) >= {
        "champion",
        "predictions",
        "feature_psi",
        "performance",
        "daily_auc",
        "calibration",
        "null_rate",
    }
    assert frame["partition_date"].unique().to_list() == [D3] and frame["window_start"].unique().to_list() == [D1]
    inputs = decision_inputs(frame)
    assert (inputs.model_version, inputs.holdout_auc, inputs.n_predictions, inputs.matured_labels) == (
        "1",
        0.8,
        300,
        4,
    )
    assert inputs.live_auc == pytest.approx(0.75)
    assert inputs.feature_psi["x"] > 1.0 and inputs.prediction_psi is None
    markdown = monitoring_markdown(measures)
    assert "| x |" in markdown and "live AUC v1" in markdown
    chart = plot_monitoring(measures, tmp_path / "chart.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_window_measures_nothing_and_does_not_fail(tmp_path):
    empty_matured = join_matured(predictions([]), labels([]), "ID", "default_payment_next_month")
    measures = _window(
        empty_matured, predictions([]), pl.DataFrame(schema={"partition_date": pl.Date, "x": pl.Float64}), None
    )
    inputs = decision_inputs(measures.to_frame())
    assert (inputs.n_predictions, inputs.matured_labels, inputs.live_auc, inputs.feature_psi) == (0, 0, None, {})
    assert "no matured labels" in monitoring_markdown(measures)
    assert plot_monitoring(measures, tmp_path / "empty.png").exists()


def served_by_v1_then_v2_promoted(rng: np.random.Generator, v1_rows: int = 1_750, v2_rows: int = 40):
    """v1 served for weeks and its labels matured; v2 was promoted last week, so few or none of its labels have."""
    rows = []
    for i in range(v1_rows + v2_rows):
        version = "1" if i < v1_rows else "2"
        y = int(rng.random() < 0.22)
        rows.append((D1, version, float(np.clip(0.3 * y + rng.normal(0.3, 0.2), 0, 1)), y, False))
    matured = pl.DataFrame(rows, schema=MATURED_SCHEMA, orient="row")
    scored = predictions([(D3, i, 0.3, "2") for i in range(300)])
    no_counts = pl.DataFrame(schema={"partition_date": pl.Date, "feed": pl.String, "rows": pl.Int64})
    empty = pl.DataFrame(schema={"partition_date": pl.Date, "x": pl.Float64})
    return measure_window(
        D3,
        (D1, D3),
        scored,
        matured,
        empty,
        ["x"],
        None,
        {},
        "2",
        0.80,
        no_counts,
        no_counts,
        holdout_auc_se=0.01,
        holdout_rows=3_000,
        holdouts={"1": Holdout(0.79, 0.012, 2_500), "2": Holdout(0.80, 0.01, 3_000)},
    )


def test_after_a_promotion_performance_is_judged_on_the_labels_of_the_version_that_served():
    measures = served_by_v1_then_v2_promoted(np.random.default_rng(3))
    inputs = decision_inputs(measures.to_frame(), min_matured_labels=200)
    v1 = measures.performance.filter(pl.col("model_version") == "1").row(0, named=True)
    assert (inputs.model_version, inputs.performance_version, inputs.champion_labels) == ("2", "1", 40)
    assert (inputs.matured_labels, inputs.live_auc, inputs.holdout_auc) == (1_750, v1["roc_auc"], 0.79)
    assert inputs.deployed_labels == 1_790 and inputs.served_versions == ["1", "2"]
    assert measures.performance["model_version"].to_list() == ["1", "2"]  # the pooled row is stored beside them
    frame = measures.to_frame().filter(pl.col("kind") == "performance", pl.col("subject") == "roc_auc")
    assert frame.sort("model_version").select("model_version", "n").rows() == [("1", 1750), ("2", 40), (DEPLOYED, 1790)]
    decision = decide_retrain(decision_date=D3, rules=RetrainRules(), **dataclasses.asdict(inputs))
    assert decision.status == "healthy" and decision.performance_score == v1["roc_auc"]
    assert "1750 out-of-sample matured labels of v1, which served them (champion v2 has 40 yet)" in decision.reason
    assert "deployed overall (v1, v2 pooled): AUC" in decision.reason and "on 1790 matured labels" in decision.reason


def test_the_champion_is_judged_on_its_own_labels_once_it_has_enough():
    measures = served_by_v1_then_v2_promoted(np.random.default_rng(4), v2_rows=400)
    inputs = decision_inputs(measures.to_frame(), min_matured_labels=200)
    assert (inputs.performance_version, inputs.matured_labels, inputs.holdout_auc) == ("2", 400, 0.80)
    # Without a version that has enough labels the champion stays judged, and the decision says too few.
    alone = decision_inputs(served_by_v1_then_v2_promoted(np.random.default_rng(5), 150, 10).to_frame(), 200)
    assert (alone.performance_version, alone.matured_labels) == ("2", 10)
    decision = decide_retrain(decision_date=D3, rules=RetrainRules(), **dataclasses.asdict(alone))
    assert decision.status == "insufficient_data" and decision.reason.startswith("10 out-of-sample matured labels")
