"""Finding 4: how often each retrain rule fires when nothing changed, measured on seeded synthetic windows.

The model's scores are binormal with a true AUC of 0.78 and 22 % positives; the holdout that sets the reference AUC
has 3,000 rows, a live window 200 matured labels (the smallest the rules accept) and 200 predictions. Features: 37
columns, six of them one correlated block (like the six bill amounts). The README states the rates printed here.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from medallion.logic.ml.evaluation import auc_standard_error
from medallion.logic.monitoring.decision import RetrainRules, decide_retrain
from medallion.logic.monitoring.drift import build_reference, load_reference, psi_critical_value
from medallion.logic.monitoring.measures import roc_auc

SIMULATIONS = 600
HOLDOUT_ROWS, LIVE_LABELS, LIVE_ROWS, PREVALENCE, SEPARATION = 3000, 200, 200, 0.22, 1.09  # AUC = Φ(1.09/√2) = 0.78
RULES = RetrainRules()
LOW = RetrainRules(prediction_psi_threshold=0.1, feature_psi_threshold=0.1)  # PSI's "moderate" level
# The defaults before issue 22: every rule at 2.5 % a decision (AUC intervals at 95 %), prediction PSI above 0.25.
PER_DECISION = RetrainRules(yearly_false_alarm=0.10, decisions_per_year=1, prediction_psi_threshold=0.25)


def scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < PREVALENCE).astype(int)
    y[:2] = (0, 1)
    return y, rng.normal(size=n) + SEPARATION * y


def features(rng: np.random.Generator, n: int, bill_shift: float = 0.0) -> pl.DataFrame:
    latent = rng.normal(size=n) + bill_shift
    bills = {f"bill_{i}": latent + 0.3 * rng.normal(size=n) for i in range(6)}
    others = {f"x_{i}": rng.normal(size=n) for i in range(31)}
    return pl.DataFrame({**bills, **others})


def decide(rng, rules=RULES, **overrides):
    inputs = dict(
        decision_date="2025-03-01",
        model_version="1",
        holdout_auc=None,
        live_auc=None,
        matured_labels=0,
        n_predictions=LIVE_ROWS,
        prediction_psi=None,
        feature_psi={},
        rules=rules,
    )
    return decide_retrain(**{**inputs, **overrides})


@pytest.fixture(scope="module")
def auc_rules_without_drift():
    rng = np.random.default_rng(11)
    fired = {"auc_floor": 0, "auc_drop": 0, "auc_drop_per_decision": 0, "old_auc_drop": 0}
    for _ in range(SIMULATIONS):
        y_h, s_h = scores(rng, HOLDOUT_ROWS)
        y_l, s_l = scores(rng, LIVE_LABELS)
        holdout, live = roc_auc(y_h, s_h), roc_auc(y_l, s_l)
        measured = dict(
            holdout_auc=holdout,
            holdout_auc_se=auc_standard_error(y_h, s_h),
            live_auc=live,
            live_auc_se=auc_standard_error(y_l, s_l),
            matured_labels=LIVE_LABELS,
        )
        decision = decide(rng, **measured)
        for rule in ("auc_floor", "auc_drop"):
            fired[rule] += rule in decision.triggered_rules
        fired["auc_drop_per_decision"] += "auc_drop" in decide(rng, PER_DECISION, **measured).triggered_rules
        fired["old_auc_drop"] += holdout - live > RULES.max_auc_drop  # the rule before: the point drop alone
    return {rule: count / SIMULATIONS for rule, count in fired.items()}


@pytest.fixture(scope="module")
def drift_rules_without_drift():
    rng = np.random.default_rng(12)
    reference_frame = features(rng, HOLDOUT_ROWS)
    reference = load_reference(build_reference(reference_frame, reference_frame.columns, groups=True))
    _, holdout_scores = scores(rng, HOLDOUT_ROWS)
    prediction_reference = load_reference(
        build_reference(pl.DataFrame({"probability": holdout_scores}), ["probability"])
    )["probability"]
    fired = dict.fromkeys(
        [f"{rule}{suffix}" for rule in ("prediction_drift", "feature_drift") for suffix in ("", "_at_0.1")]
        + ["old_prediction_drift_at_0.1", "old_feature_drift", "old_feature_drift_at_0.1"],
        0,
    )
    for _ in range(SIMULATIONS):
        live = features(rng, LIVE_ROWS)
        psi = {name: ref.psi(live[name].to_numpy()) for name, ref in reference.items()}
        _, live_scores = scores(rng, LIVE_ROWS)
        prediction_psi = prediction_reference.psi(live_scores)
        measured = dict(
            prediction_psi=prediction_psi,
            prediction_psi_p_value=prediction_reference.p_value(prediction_psi, LIVE_ROWS),
            feature_psi=psi,
            feature_psi_p_values={name: reference[name].p_value(value, LIVE_ROWS) for name, value in psi.items()},
            feature_groups={name: ref.group for name, ref in reference.items()},
        )
        for rules, suffix in ((RULES, ""), (LOW, "_at_0.1")):
            decision = decide(rng, rules, **measured)
            for rule in ("prediction_drift", "feature_drift"):
                fired[rule + suffix] += rule in decision.triggered_rules
        # The rules before: thresholds alone, every feature counted on its own.
        fired["old_prediction_drift_at_0.1"] += prediction_psi > LOW.prediction_psi_threshold
        fired["old_feature_drift"] += sum(v > RULES.feature_psi_threshold for v in psi.values()) >= 3
        fired["old_feature_drift_at_0.1"] += sum(v > LOW.feature_psi_threshold for v in psi.values()) >= 3
    return {rule: count / SIMULATIONS for rule, count in fired.items()}, reference


def test_auc_rules_keep_their_false_alarm_rate_under_no_drift(auc_rules_without_drift):
    rates = auc_rules_without_drift
    print(f"\nno-drift false-alarm rates at {LIVE_LABELS} labels over {SIMULATIONS} windows: {rates}")
    # One side of a two-sided interval at 1 - 2 * rule_alpha: at most rule_alpha, plus Monte Carlo slack.
    assert rates["auc_drop"] <= RULES.rule_alpha + 0.005
    assert rates["auc_drop_per_decision"] <= PER_DECISION.rule_alpha + 0.015
    assert rates["auc_floor"] <= RULES.rule_alpha
    assert rates["old_auc_drop"] > 0.05  # the point-drop rule fired on noise


def test_drift_rules_keep_their_false_alarm_rate_under_no_drift(drift_rules_without_drift):
    rates, reference = drift_rules_without_drift
    print(f"\nno-drift false-alarm rates at {LIVE_ROWS} rows over {SIMULATIONS} windows: {rates}")
    assert rates["prediction_drift"] <= RULES.rule_alpha and rates["feature_drift"] <= RULES.rule_alpha
    assert rates["prediction_drift_at_0.1"] <= RULES.rule_alpha + 0.01 and rates["feature_drift_at_0.1"] <= 0.04
    assert rates["old_feature_drift_at_0.1"] > rates["feature_drift_at_0.1"]
    groups = {ref.group for ref in reference.values()}
    assert len(groups) == 32 and {reference[f"bill_{i}"].group for i in range(6)} == {"bill_0"}


def test_the_no_drift_psi_distribution_matches_its_chi_square_approximation():
    """At n = 200 the mean no-drift PSI over 10 bins is about 9 / 200 = 0.045, and 1 % of windows pass the critical
    value, which is what the p-values the drift rules read rest on."""
    rng = np.random.default_rng(13)
    ref = load_reference(build_reference(pl.DataFrame({"x": rng.normal(size=HOLDOUT_ROWS)}), ["x"]))["x"]
    values = np.array([ref.psi(rng.normal(size=LIVE_ROWS)) for _ in range(2000)])
    critical = psi_critical_value(ref.fractions, LIVE_ROWS, ref.n_rows, 0.01)
    assert values.mean() == pytest.approx(9 * (1 / LIVE_ROWS + 1 / HOLDOUT_ROWS), rel=0.15)
    assert (values > critical).mean() <= 0.02
    assert all(0 <= ref.p_value(v, LIVE_ROWS) <= 1 for v in values[:20])


def test_correlated_features_drift_as_one_group(drift_rules_without_drift):
    """Six correlated bill amounts that all shift count once: not enough for the feature rule, which the old count
    of single features fired on."""
    _, reference = drift_rules_without_drift
    rng = np.random.default_rng(14)
    live = features(rng, 2000, bill_shift=1.0)
    psi = {name: ref.psi(live[name].to_numpy()) for name, ref in reference.items()}
    assert sum(v > RULES.feature_psi_threshold for v in psi.values()) >= 6
    decision = decide(
        rng,
        n_predictions=2000,
        feature_psi=psi,
        feature_psi_p_values={name: reference[name].p_value(value, 2000) for name, value in psi.items()},
        feature_groups={name: ref.group for name, ref in reference.items()},
    )
    assert "feature_drift" not in decision.triggered_rules
    assert "1 feature groups" in decision.reason and len(decision.drifting_features) == 6
