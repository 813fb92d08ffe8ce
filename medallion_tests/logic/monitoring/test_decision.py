import datetime as dt
import json

import pytest

from medallion.logic.monitoring.decision import RetrainRules, decide_retrain

DAY = dt.date(2024, 5, 1)


def decide(**overrides):
    inputs = dict(
        decision_date=DAY,
        model_version="7",
        holdout_auc=0.78,
        live_auc=0.76,
        matured_labels=500,
        n_predictions=1000,
        prediction_psi=0.03,
        feature_psi={"LIMIT_BAL": 0.12, "AGE": 0.02, "PAY_0": 0.3},
        rules=RetrainRules(),
    )
    inputs.update(overrides)
    return decide_retrain(**inputs)


def test_healthy_when_no_rule_fires():
    decision = decide()
    assert (decision.retrain, decision.status, decision.triggered_rules) == (False, "healthy", [])
    assert decision.reason.startswith("no rule fired")
    assert "live AUC 0.7600 (99.9% CI [0.7600, 0.7600], 500 out-of-sample matured labels) not below floor" in (
        decision.reason
    )
    assert decision.performance_score == 0.76
    assert decision.drift_score == 0.3
    assert decision.drifting_features == ["PAY_0"]


def test_auc_below_floor():
    decision = decide(live_auc=0.65, holdout_auc=0.68)
    assert (decision.retrain, decision.status, decision.triggered_rules) == (True, "retrain", ["auc_floor"])
    assert "live AUC 0.6500 (99.9% CI [0.6500, 0.6500], 500 out-of-sample matured labels) < floor 0.70" in (
        decision.reason
    )


def test_auc_drop_from_the_holdout_auc():
    decision = decide(live_auc=0.72, holdout_auc=0.80)
    assert decision.triggered_rules == ["auc_drop"]
    dropped = "AUC dropped 0.0800 (99.9% CI [0.0800, 0.0800]) from holdout 0.8000 to live 0.7200 (> 0.05"
    assert dropped in decision.reason
    assert decide(live_auc=0.75, holdout_auc=0.80).triggered_rules == []


def test_prediction_drift_retrains_without_matured_labels():
    decision = decide(prediction_psi=0.31, live_auc=None, matured_labels=0)
    assert (decision.retrain, decision.status, decision.triggered_rules) == (True, "retrain", ["prediction_drift"])
    assert "prediction PSI 0.310 > 0.05" in decision.reason
    assert decision.performance_score is None and decision.drift_score == 0.31


def test_feature_drift_needs_enough_drifting_features():
    psi = {"a": 0.4, "b": 0.3, "c": 0.26, "d": 0.25, "e": 0.01}
    decision = decide(feature_psi=psi)
    assert decision.triggered_rules == ["feature_drift"]
    assert decision.drifting_features == ["a", "b", "c"]
    listing = "a (a 0.400), b (b 0.300), c (c 0.260)"
    assert f"3 feature groups with PSI > 0.25 and no-drift p < 0.00048 (>= 3): {listing}" in decision.reason
    assert decide(feature_psi={**psi, "c": 0.25}).status == "healthy"
    assert decide(feature_psi=psi, rules=RetrainRules(max_drifting_features=4)).retrain is False


def test_too_few_predictions_is_insufficient_even_with_drift():
    decision = decide(n_predictions=150, prediction_psi=0.9, live_auc=0.5)
    assert (decision.retrain, decision.status, decision.triggered_rules) == (False, "insufficient_data", [])
    assert "only 150 predictions (< 200)" in decision.reason


def test_too_few_labels_and_no_drift_is_insufficient():
    decision = decide(matured_labels=120, live_auc=0.55)
    assert (decision.retrain, decision.status) == (False, "insufficient_data")
    assert decision.performance_score is None
    assert (
        "120 out-of-sample matured labels (< 200)" in decision.reason
        and "prediction PSI 0.030 (retrain when > 0.05" in decision.reason
    )


def test_no_measure_at_all_is_insufficient():
    decision = decide(live_auc=None, matured_labels=0, prediction_psi=None, feature_psi={})
    assert (decision.status, decision.drift_score, decision.performance_score) == ("insufficient_data", None, None)
    assert "no drift measured" in decision.reason


def test_several_rules_fire_together():
    decision = decide(live_auc=0.6, holdout_auc=0.8, prediction_psi=0.4)
    assert decision.triggered_rules == ["auc_floor", "auc_drop", "prediction_drift"]
    assert decision.drift_score == 0.4


def test_to_dict_is_json_safe():
    payload = decide(live_auc=0.6, holdout_auc=0.62, model_version=12).to_dict()
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    assert payload["decision_date"] == "2024-05-01"
    assert payload["model_version"] == "12"
    assert payload["triggered_rules"] == ["auc_floor"]


def test_nan_measures_count_as_missing():
    decision = decide(prediction_psi=float("nan"), feature_psi={"a": float("nan"), "b": 0.1})
    assert decision.drift_score == pytest.approx(0.1)
    assert decision.status == "healthy"
