import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as skm

from medallion.logic.ml.evaluation import (
    MetricComparison,
    PromotionRule,
    auc_difference_pvalue,
    decide_promotion,
    delong_auc_covariance,
    paired_bootstrap,
    quality_floor_verdict,
    resampled_metric,
)


def scored_rows(n: int = 5000, seed: int = 0, noise_new: float = 1.0, noise_champion: float = 1.0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.22).astype(int)
    signal = 1.2 * y + rng.normal(size=n)
    new = 1 / (1 + np.exp(-(signal + noise_new * rng.normal(size=n) - 1.5)))
    champion = 1 / (1 + np.exp(-(signal + noise_champion * rng.normal(size=n) - 1.5)))
    return y, new, champion


SKLEARN = {
    "roc_auc": lambda y, p, t: skm.roc_auc_score(y, p),
    "pr_auc": lambda y, p, t: skm.average_precision_score(y, p),
    "brier": lambda y, p, t: skm.brier_score_loss(y, p),
    "log_loss": lambda y, p, t: skm.log_loss(y, p, labels=[0, 1]),
    "f1": lambda y, p, t: skm.f1_score(y, p >= t),
    "accuracy": lambda y, p, t: skm.accuracy_score(y, p >= t),
}


@pytest.mark.parametrize("metric", sorted(SKLEARN))
def test_resampled_metric_equals_sklearn_on_the_resampled_rows(metric):
    rng = np.random.default_rng(2)
    y = (rng.random(300) < 0.3).astype(int)
    proba = np.clip(0.3 + 0.3 * y + rng.normal(0, 0.2, 300), 0.01, 0.99).round(2)  # many ties
    indices = rng.integers(0, 300, size=(5, 300))
    counts = np.stack([np.bincount(row, minlength=300) for row in indices])
    got = resampled_metric(metric, counts, y, proba, threshold=0.45)
    expected = [SKLEARN[metric](y[row], proba[row], 0.45) for row in indices]
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_bootstrap_point_estimates_and_reproducibility():
    y, new, champion = scored_rows(n=1000)
    result = paired_bootstrap(y, new, champion, 0.3, 0.35, n_resamples=300, seed=1)
    assert set(result) == {"roc_auc", "pr_auc", "brier", "log_loss", "f1", "accuracy"}
    auc = result["roc_auc"]
    assert auc.new == pytest.approx(skm.roc_auc_score(y, new))
    assert auc.champion == pytest.approx(skm.roc_auc_score(y, champion))
    assert auc.difference == pytest.approx(auc.new - auc.champion)
    assert result["f1"].champion == pytest.approx(skm.f1_score(y, champion >= 0.35))
    assert auc.n_resamples == 300 and result["brier"].higher_is_better is False
    assert auc.ci_low < auc.difference < auc.ci_high
    assert paired_bootstrap(y, new, champion, 0.3, 0.35, n_resamples=300, seed=1) == result
    assert paired_bootstrap(y, new, champion, 0.3, 0.35, n_resamples=300, seed=2)["roc_auc"].ci_low != auc.ci_low


def test_identical_models_have_a_zero_width_interval():
    y, new, _ = scored_rows(n=500)
    auc = paired_bootstrap(y, new, new.copy(), 0.3, 0.3, n_resamples=100, metrics=("roc_auc",))["roc_auc"]
    assert (auc.difference, auc.ci_low, auc.ci_high) == (0.0, 0.0, 0.0)
    assert auc_difference_pvalue(y, new, new.copy()) == 1.0


def test_bootstrap_and_delong_agree_on_a_clearly_better_model():
    y, new, champion = scored_rows(n=5000, noise_new=0.3, noise_champion=1.5)
    result = paired_bootstrap(y, new, champion, 0.3, 0.3, n_resamples=1000)
    p_value = auc_difference_pvalue(y, new, champion)
    assert result["roc_auc"].difference > 0.05
    assert result["roc_auc"].ci_low > 0 and p_value < 1e-6
    assert result["brier"].ci_high < 0 and result["log_loss"].ci_high < 0


def test_bootstrap_and_delong_agree_on_equivalent_models():
    y, new, champion = scored_rows(n=2000, seed=3)
    auc = paired_bootstrap(y, new, champion, 0.3, 0.3, n_resamples=1000, metrics=("roc_auc",))["roc_auc"]
    p_value = auc_difference_pvalue(y, new, champion)
    assert auc.ci_low < 0 < auc.ci_high
    assert p_value > 0.05


def test_single_class_resamples_are_redrawn():
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0])  # a third of resamples miss the only positive
    proba = np.linspace(0.9, 0.0, 10)
    result = paired_bootstrap(y, proba, proba[::-1], 0.5, 0.5, n_resamples=200, metrics=("roc_auc", "pr_auc"))
    for comparison in result.values():
        assert np.isfinite([comparison.ci_low, comparison.ci_high]).all()
    assert result["roc_auc"].ci_low == result["roc_auc"].ci_high == 1.0  # AUC 1 vs 0 in every resample


def test_single_class_labels_are_rejected():
    with pytest.raises(ValueError, match="single class"):
        paired_bootstrap(np.zeros(10), np.linspace(0, 1, 10), np.linspace(0, 1, 10), 0.5, 0.5)


def test_delong_by_hand():
    # Positives score (0.9, 0.6) and negatives (0.7, 0.1) for model a; model b swaps the negatives.
    # Per-positive components are [1, 0.5] for both, per-negative [0.5, 1] and [1, 0.5]: each variance
    # is 0.125, the covariances +0.125 (positives) and -0.125 (negatives), each divided by 2 rows.
    y = np.array([1, 1, 0, 0])
    aucs, cov = delong_auc_covariance(y, [np.array([0.9, 0.6, 0.7, 0.1]), np.array([0.8, 0.4, 0.3, 0.5])])
    np.testing.assert_allclose(aucs, [0.75, 0.75])
    np.testing.assert_allclose(cov, [[0.125, 0.0], [0.0, 0.125]], atol=1e-15)
    assert auc_difference_pvalue(y, np.array([0.9, 0.6, 0.7, 0.1]), np.array([0.8, 0.4, 0.3, 0.5])) == 1.0


def test_delong_pvalue_by_hand():
    # AUC 0.75 vs 1.0; the perfect model has zero-variance components, so var = 0.125/2 + 0.125/2.
    p_value = auc_difference_pvalue(
        np.array([1, 1, 0, 0]), np.array([0.9, 0.6, 0.7, 0.1]), np.array([0.9, 0.8, 0.7, 0.1])
    )
    assert p_value == pytest.approx(2 * norm.sf(0.25 / np.sqrt(0.125)))
    assert p_value == pytest.approx(0.4795, abs=1e-4)


def test_delong_covariance_equals_brute_force_structural_components():
    rng = np.random.default_rng(4)
    y = np.r_[np.ones(15, dtype=int), np.zeros(20, dtype=int)]
    probas = [rng.integers(0, 8, 35) / 8 + 0.1 * k * y for k in range(3)]  # ties within and across classes

    def psi(x, z):
        return 1.0 if x > z else 0.5 if x == z else 0.0

    v_pos = np.array([[np.mean([psi(p[i], p[j]) for j in range(15, 35)]) for i in range(15)] for p in probas])
    v_neg = np.array([[np.mean([psi(p[i], p[j]) for i in range(15)]) for j in range(15, 35)] for p in probas])
    aucs, cov = delong_auc_covariance(y, probas)
    np.testing.assert_allclose(aucs, v_pos.mean(axis=1))
    np.testing.assert_allclose(aucs, [skm.roc_auc_score(y, p) for p in probas])
    np.testing.assert_allclose(cov, np.cov(v_pos) / 15 + np.cov(v_neg) / 20)


def auc_comparison(difference: float, ci_low: float, ci_high: float) -> MetricComparison:
    return MetricComparison("roc_auc", 0.75 + difference, 0.75, difference, ci_low, ci_high, 1000, True)


def test_promotes_without_a_champion():
    decision = decide_promotion(None, None, None, PromotionRule())
    assert (decision.promote, decision.alias, decision.branch) == (True, "champion", "no_champion")


def test_promotes_a_significantly_better_model():
    decision = decide_promotion({"roc_auc": auc_comparison(0.02, 0.005, 0.035)}, 0.01, 3.0, PromotionRule())
    assert (decision.promote, decision.alias, decision.branch) == (True, "champion", "significantly_better")
    assert "+0.0200" in decision.reason and "p = 0.01" in decision.reason
    assert decision.auc_ci_low == 0.005


def test_significance_needs_both_p_value_and_interval():
    rule = PromotionRule()
    assert decide_promotion(auc_comparison(0.02, -0.001, 0.04), 0.01, 3.0, rule).branch == "not_better"
    assert decide_promotion(auc_comparison(0.02, 0.001, 0.04), 0.06, 3.0, rule).branch == "not_better"


def test_a_stale_champion_is_replaced_by_a_not_worse_model():
    decision = decide_promotion(auc_comparison(-0.002, -0.009, 0.005), 0.6, 45.0, PromotionRule())
    assert (decision.promote, decision.alias, decision.branch) == (True, "champion", "stale_champion_not_worse")
    assert "45.0 days old" in decision.reason


def test_a_stale_champion_is_replaced_unless_the_new_model_is_significantly_worse():
    """Finding 3 (issue 22): "not significantly worse" is the interval reaching 0, not its low end above -0.01."""
    wide = decide_promotion(auc_comparison(-0.01, -0.03, 0.01), 0.4, 45.0, PromotionRule())
    assert (wide.promote, wide.branch) == (True, "stale_champion_not_worse")
    assert "not significantly worse (its CI reaches 0)" in wide.reason
    worse = decide_promotion(auc_comparison(-0.004, -0.007, -0.001), 0.03, 45.0, PromotionRule())
    assert (worse.promote, worse.branch) == (False, "not_better")


def test_a_stale_champion_stays_against_a_worse_model():
    decision = decide_promotion(auc_comparison(-0.02, -0.011, -0.01), 0.001, 45.0, PromotionRule())
    assert (decision.promote, decision.alias, decision.branch) == (False, "challenger", "not_better")


def test_a_fresh_or_unknown_age_champion_stays_against_an_equal_model():
    for age in (30.0, None):
        decision = decide_promotion(auc_comparison(0.001, -0.005, 0.007), 0.7, age, PromotionRule())
        assert (decision.promote, decision.alias, decision.branch) == (False, "challenger", "not_better")
    custom = decide_promotion(auc_comparison(0.001, -0.005, 0.007), 0.7, 8.0, PromotionRule(max_champion_age_days=7))
    assert custom.branch == "stale_champion_not_worse"


def test_the_interval_level_follows_alpha():
    """Finding 5: alpha = 0.2 gives an 80% interval (the 10th and 90th percentiles of the paired differences), and
    the reason and the comparison table say 80%; the old code always gave the 95% one."""
    from medallion.logic.ml.champion import ChampionComparison

    y, new, champion = scored_rows(n=800, seed=4)
    wide = paired_bootstrap(y, new, champion, 0.3, 0.3, n_resamples=400, seed=7, metrics=("roc_auc",))["roc_auc"]
    narrow = paired_bootstrap(y, new, champion, 0.3, 0.3, n_resamples=400, seed=7, metrics=("roc_auc",), alpha=0.2)[
        "roc_auc"
    ]
    assert wide.confidence == 0.95 and narrow.confidence == 0.8
    assert wide.ci_low < narrow.ci_low < narrow.difference < narrow.ci_high < wide.ci_high
    rng = np.random.default_rng(7)
    counts = np.stack([np.bincount(rng.integers(0, 800, 800), minlength=800) for _ in range(400)])
    differences = resampled_metric("roc_auc", counts, y, new) - resampled_metric("roc_auc", counts, y, champion)
    np.testing.assert_allclose([narrow.ci_low, narrow.ci_high], np.percentile(differences, [10, 90]))
    decision = decide_promotion({"roc_auc": narrow}, 0.5, 1.0, PromotionRule(alpha=0.2))
    assert "80% CI" in decision.reason
    table = ChampionComparison(decision, "1", 800, "2025-01-01..2025-01-05", {"roc_auc": narrow}, alpha=0.2)
    assert "| 80% CI |" in table.markdown()


def test_a_better_ranking_with_worse_calibration_is_not_promoted():
    """Finding 7: significantly better AUC but a Brier score worse beyond the margin stays challenger; the old rule
    looked at AUC only and promoted it."""
    y, new, champion = scored_rows(n=3000, noise_new=0.3, noise_champion=1.5)
    overconfident = np.clip(new * 3, 0, 0.999)  # same ranking, far too high probabilities
    comparisons = paired_bootstrap(y, overconfident, champion, 0.5, 0.3, n_resamples=200)
    p_value = auc_difference_pvalue(y, overconfident, champion)
    assert comparisons["roc_auc"].ci_low > 0 and p_value < 0.05
    assert comparisons["brier"].difference > 0.005
    decision = decide_promotion(comparisons, p_value, 3.0, PromotionRule())
    assert (decision.promote, decision.branch) == (False, "worse_calibrated")
    assert "Brier score" in decision.reason and "margin 0.005" in decision.reason
    calibrated = decide_promotion(paired_bootstrap(y, new, champion, 0.3, 0.3, n_resamples=200), p_value, 3.0)
    assert (calibrated.promote, calibrated.branch) == (True, "significantly_better")


def test_the_quality_floor_is_judged_with_the_holdout_auc_interval():
    """Issue 22, finding 9: model_quality_floor blocks only when the whole 95 % interval is below the floor."""
    below = quality_floor_verdict(0.66, 0.01, 0.70)  # interval 0.640..0.680
    assert (below.passed, below.blocking, below.note) == (False, True, "is below the floor 0.70")
    assert below.low == pytest.approx(0.66 - 1.959964 * 0.01) and below.high == pytest.approx(0.66 + 1.959964 * 0.01)
    inside = quality_floor_verdict(0.69, 0.01, 0.70)  # 0.670..0.710 reaches the floor
    assert (inside.passed, inside.blocking) == (False, False) and "but not significantly" in inside.note
    at = quality_floor_verdict(0.71, 0.01, 0.70)
    assert (at.passed, at.blocking, at.note) == (True, False, "is at the floor 0.70 or above, not shown above it")
    clear = quality_floor_verdict(0.80, 0.01, 0.70)
    assert (clear.passed, clear.blocking, clear.note) == (True, False, None)
    assert quality_floor_verdict(0.69, None, 0.70).blocking  # no standard error: the point decides
