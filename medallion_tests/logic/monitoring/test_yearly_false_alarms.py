"""Finding 8: what a user lives with is every rule, every week, for a year, against one holdout AUC.

Each simulated year has one champion with a 3,000-row holdout (its reference AUC for the whole year and its
prediction reference) and 52 weekly decisions by the project's own `decide_retrain` on fresh weekly labels and
predictions. Scores are binormal with a true AUC of 0.78 and 22 % positives (as in test_false_alarms); a year's
weeks share their class counts (drawn once a year), so one DeLong call measures all 52 windows. Three variants:
`per_decision` (the defaults before: each rule at 2.5 % every decision, prediction PSI above 0.25), `budget` (the
default: 10 % a year over 52 decisions, a quarter of each decision's share per rule) and `budget_4_weeks` (the same
budget on a 4-week window, `window_days=28`, whose labels are pooled).
Detection: the live AUC falls to 0.70 from week 1 (the weeks before it are pooled as they are); weeks until a
performance rule fires. The README's monitoring section states the rates printed here.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from medallion.logic.ml.evaluation import delong_auc_covariance
from medallion.logic.monitoring.decision import RetrainRules, decide_retrain
from medallion.logic.monitoring.drift import build_reference, load_reference

YEARS, WEEKS, HOLDOUT_ROWS, PREVALENCE = 100, 52, 3000, 0.22
SEPARATION, DRIFTED_SEPARATION = 1.09, 0.742  # binormal AUC = Φ(separation / √2): 0.78 and 0.70
BUDGET = RetrainRules()
# The defaults before issue 22: every rule at 2.5 % a decision (AUC intervals at 95 %), prediction PSI above 0.25.
PER_DECISION = RetrainRules(yearly_false_alarm=0.10, decisions_per_year=1, prediction_psi_threshold=0.25)
VARIANTS = {"per_decision": (PER_DECISION, 1), "budget": (BUDGET, 1), "budget_4_weeks": (BUDGET, 4)}
POOLED = max(weeks for _, weeks in VARIANTS.values())
SMALL, LARGE = 200, 1750  # matured labels a week: the rules' minimum, and the demo's 250 a day
VARIANTS_AT = {SMALL: tuple(VARIANTS), LARGE: ("per_decision", "budget")}  # pooling only matters for small windows
RULES = ("auc_floor", "auc_drop", "prediction_drift")
PERFORMANCE_RULES = {"auc_floor", "auc_drop"}
EPISODES, DETECTION_WEEKS = 60, 20


def labels_of(rng: np.random.Generator, n: int) -> np.ndarray:
    y = (rng.random(n) < PREVALENCE).astype(int)
    y[:2] = (0, 1)
    return y


class Champion:
    """A champion's holdout AUC with its standard error, and its holdout scores as the prediction reference."""

    def __init__(self, rng: np.random.Generator):
        y = labels_of(rng, HOLDOUT_ROWS)
        s = rng.normal(size=HOLDOUT_ROWS) + SEPARATION * y
        aucs, cov = delong_auc_covariance(y, [s])
        self.auc, self.se = float(aucs[0]), math.sqrt(cov[0, 0])
        self.predictions = load_reference(build_reference(pl.DataFrame({"probability": s}), ["probability"]))[
            "probability"
        ]

    def decisions(
        self, rng: np.random.Generator, labels: int, separations: np.ndarray, variants: tuple[str, ...]
    ) -> dict[str, list[list[str]]]:
        """Each variant's fired rules for every week of `separations` after the first `POOLED - 1` (weeks served
        before): one stream of weekly labels and scores, judged by every variant, each window pooling its last
        weeks as the variant says."""
        y = labels_of(rng, labels)
        weekly = rng.normal(size=(len(separations), labels)) + separations[:, None] * y
        inputs = {pooled: self._inputs(y, weekly, pooled) for pooled in {VARIANTS[name][1] for name in variants}}
        fired = {}
        for name in variants:
            rules, pooled = VARIANTS[name]
            fired[name] = [decide_retrain(rules=rules, **week).triggered_rules for week in inputs[pooled]]
        return fired

    def _inputs(self, y: np.ndarray, weekly: np.ndarray, pooled: int) -> list[dict]:
        windows = [weekly[week - pooled + 1 : week + 1].ravel() for week in range(POOLED - 1, len(weekly))]
        aucs, cov = delong_auc_covariance(np.tile(y, pooled), windows)
        ses = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        rows = len(y) * pooled
        psis = [self.predictions.psi(window) for window in windows]
        return [
            dict(
                decision_date="2025-03-02",
                model_version="1",
                holdout_auc=self.auc,
                holdout_auc_se=self.se,
                live_auc=float(auc),
                live_auc_se=float(se),
                matured_labels=rows,
                n_predictions=rows,
                prediction_psi=psi,
                prediction_psi_p_value=self.predictions.p_value(psi, rows),
                feature_psi={},
            )
            for auc, se, psi in zip(aucs, ses, psis, strict=True)
        ]


def simulate_years(labels: int, seed: int) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    separations = np.full(WEEKS + POOLED - 1, SEPARATION)
    variants = VARIANTS_AT[labels]
    fired = {name: np.zeros((YEARS, WEEKS), dtype=bool) for name in variants}
    per_rule = {name: dict.fromkeys(RULES, 0) for name in variants}
    holdout_aucs = np.empty(YEARS)
    for year in range(YEARS):
        champion = Champion(rng)
        holdout_aucs[year] = champion.auc
        for name, weeks in champion.decisions(rng, labels, separations, variants).items():
            for week, triggered in enumerate(weeks):
                fired[name][year, week] = bool(triggered)
                for rule in triggered:
                    per_rule[name][rule] += 1
    results = {}
    for name in variants:
        alarm_years = fired[name].any(axis=1)
        results[name] = {
            "per_week": {rule: count / (YEARS * WEEKS) for rule, count in per_rule[name].items()},
            "any_rule_per_week": float(fired[name].mean()),
            "per_year": float(alarm_years.mean()),
            "holdout_auc_alarm_years": float(holdout_aucs[alarm_years].mean()) if alarm_years.any() else None,
            "holdout_auc_quiet_years": float(holdout_aucs[~alarm_years].mean()),
        }
    return results


@pytest.fixture(scope="module")
def no_drift_years():
    return {labels: simulate_years(labels, seed) for labels, seed in ((SMALL, 81), (LARGE, 82))}


def weeks_to_detect(labels: int, seed: int) -> dict[str, np.ndarray]:
    """Weeks until a performance rule fires after the live AUC fell to 0.70 (DETECTION_WEEKS + 1: not within them)."""
    rng = np.random.default_rng(seed)
    separations = np.r_[np.full(POOLED - 1, SEPARATION), np.full(DETECTION_WEEKS, DRIFTED_SEPARATION)]
    weeks = {name: np.full(EPISODES, DETECTION_WEEKS + 1) for name in VARIANTS_AT[labels]}
    for episode in range(EPISODES):
        for name, fired in Champion(rng).decisions(rng, labels, separations, VARIANTS_AT[labels]).items():
            detected = [week for week, rules in enumerate(fired, start=1) if PERFORMANCE_RULES & set(rules)]
            weeks[name][episode] = detected[0] if detected else DETECTION_WEEKS + 1
    return weeks


@pytest.fixture(scope="module")
def detection():
    return {labels: weeks_to_detect(labels, seed) for labels, seed in ((SMALL, 83), (LARGE, 84))}


def monte_carlo_se(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n)


def test_a_year_of_weekly_decisions_keeps_its_false_retrain_budget(no_drift_years):
    print(f"\nno drift, {YEARS} years x {WEEKS} weekly decisions: {no_drift_years}")
    for labels, results in no_drift_years.items():
        for name in VARIANTS_AT[labels][1:]:
            # Bonferroni holds whatever the weeks share; two Monte Carlo standard errors of slack.
            slack = 2 * monte_carlo_se(BUDGET.yearly_false_alarm, YEARS)
            assert results[name]["per_year"] <= BUDGET.yearly_false_alarm + slack, name
        assert results["budget"]["any_rule_per_week"] <= results["per_decision"]["any_rule_per_week"]
    # Before: the 2.5 % a week each AUC rule was allowed made a false retrain likely within a year at 200 labels.
    assert no_drift_years[SMALL]["per_decision"]["per_year"] > 0.3
    assert no_drift_years[SMALL]["budget"]["per_year"] < 0.1


def test_false_alarms_cluster_on_a_lucky_holdout(no_drift_years):
    """The weeks are not independent: a year whose holdout AUC came out high drops below it week after week."""
    before = no_drift_years[SMALL]["per_decision"]
    assert before["holdout_auc_alarm_years"] > before["holdout_auc_quiet_years"] + 0.003


def test_the_budget_costs_detection_time_at_small_windows_and_pooling_buys_it_back(detection):
    summary = {
        labels: {name: (float(np.median(w)), float((w <= 4).mean())) for name, w in by_variant.items()}
        for labels, by_variant in detection.items()
    }
    print(f"\nAUC 0.78 -> 0.70, {EPISODES} episodes: (median weeks to detect, share within 4 weeks) {summary}")
    small, large = detection[SMALL], detection[LARGE]
    assert np.median(small["budget"]) > np.median(small["per_decision"]) + 4
    assert np.median(small["budget_4_weeks"]) <= 6 < np.median(small["budget"])
    assert np.median(large["budget"]) == np.median(large["per_decision"]) == 1
