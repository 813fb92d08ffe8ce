"""Champion/challenger statistics: paired bootstrap, DeLong's test and the promotion rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from medallion.logic.ml.selection import SelectionAdjusted, selection_adjusted_gain

METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "f1", "accuracy")
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})
_MAX_REDRAWS = 100
_CELLS_PER_BATCH = 2_000_000


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    new: float
    champion: float
    difference: float
    ci_low: float
    ci_high: float
    n_resamples: int
    higher_is_better: bool
    confidence: float = 0.95

    def to_dict(self) -> dict:
        return asdict(self)


def _validate(y_true: np.ndarray, *probas: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    y = np.asarray(y_true).astype(float).ravel()
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y_true must hold 0/1 labels only")
    if np.unique(y).size < 2:
        raise ValueError("y_true holds a single class; AUC and the comparison are undefined")
    arrays = [np.asarray(p, dtype=float).ravel() for p in probas]
    for proba in arrays:
        if proba.shape != y.shape:
            raise ValueError(f"predictions have {proba.size} rows but y_true has {y.size}")
        if not np.isfinite(proba).all():
            raise ValueError("predictions contain NaN or infinite values")
    return y, arrays


def _grouped_by_score(counts: np.ndarray, y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per resample, the weight of positives and negatives at each distinct score, ascending."""
    order = np.argsort(proba, kind="stable")
    sorted_scores = proba[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    sorted_counts = counts[:, order]
    positives = np.add.reduceat(sorted_counts * y[order], starts, axis=1)
    negatives = np.add.reduceat(sorted_counts, starts, axis=1) - positives
    return positives, negatives


def resampled_metric(
    metric: str, counts: np.ndarray, y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """A metric for each row of `counts` (how often each original row occurs in a resample).

    Weighting by multiplicity equals computing the metric on the resampled rows, which lets one
    sort of the scores serve all resamples; ties are handled as sklearn does (half credit in AUC,
    one step per distinct score in average precision).
    """
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    y = np.asarray(y_true, dtype=float)
    proba = np.asarray(proba, dtype=float)
    n_rows = counts.sum(axis=1)
    n_pos = counts @ y
    n_neg = n_rows - n_pos
    if metric == "roc_auc":
        positives, negatives = _grouped_by_score(counts, y, proba)
        negatives_below = np.cumsum(negatives, axis=1) - negatives
        return (positives * (negatives_below + 0.5 * negatives)).sum(axis=1) / (n_pos * n_neg)
    if metric == "pr_auc":
        positives, negatives = _grouped_by_score(counts, y, proba)
        positives, negatives = positives[:, ::-1], negatives[:, ::-1]
        true_pos = np.cumsum(positives, axis=1)
        flagged = true_pos + np.cumsum(negatives, axis=1)
        precision = np.divide(true_pos, flagged, out=np.zeros_like(true_pos), where=flagged > 0)
        return (positives * precision).sum(axis=1) / n_pos
    if metric == "brier":
        return counts @ (proba - y) ** 2 / n_rows
    if metric == "log_loss":
        eps = np.finfo(proba.dtype).eps
        clipped = np.clip(proba, eps, 1 - eps)
        return counts @ -(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)) / n_rows
    predicted = (proba >= threshold).astype(float)
    if metric == "f1":
        true_pos = counts @ (y * predicted)
        denominator = 2 * true_pos + counts @ ((1 - y) * predicted) + counts @ (y * (1 - predicted))
        return np.divide(2 * true_pos, denominator, out=np.zeros_like(true_pos), where=denominator > 0)
    if metric == "accuracy":
        return counts @ (predicted == y).astype(float) / n_rows
    raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")


def _draw_counts(rng: np.random.Generator, n_draws: int, y: np.ndarray) -> np.ndarray:
    n = y.size
    counts = np.empty((n_draws, n), dtype=float)
    pending = np.arange(n_draws)
    for _ in range(_MAX_REDRAWS):
        indices = rng.integers(0, n, size=(pending.size, n))
        flat = (indices + np.arange(pending.size)[:, None] * n).ravel()
        counts[pending] = np.bincount(flat, minlength=pending.size * n).reshape(pending.size, n)
        n_pos = counts[pending] @ y
        pending = pending[(n_pos == 0) | (n_pos == n)]
        if pending.size == 0:
            return counts
    raise ValueError(
        f"resamples kept holding a single class after {_MAX_REDRAWS} redraws; too few positives or negatives"
    )


def paired_bootstrap(
    y_true: np.ndarray,
    proba_new: np.ndarray,
    proba_champion: np.ndarray,
    threshold_new: float,
    threshold_champion: float,
    n_resamples: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
    alpha: float = 0.05,
) -> dict[str, MetricComparison]:
    """Compare two models on the same rows with a paired percentile bootstrap.

    Each resample draws row indices once and scores both models on them, so the interval is for
    the difference (new - champion) itself. Resamples holding a single class are redrawn, so
    exactly `n_resamples` differences back every (1 - alpha) interval.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; allowed: {', '.join(METRICS)}")
    y, (new, champion) = _validate(y_true, proba_new, proba_champion)
    rng = np.random.default_rng(seed)
    differences: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    batch = max(1, _CELLS_PER_BATCH // y.size)
    for start in range(0, n_resamples, batch):
        counts = _draw_counts(rng, min(batch, n_resamples - start), y)
        for m in metrics:
            differences[m].append(
                resampled_metric(m, counts, y, new, threshold_new)
                - resampled_metric(m, counts, y, champion, threshold_champion)
            )
    ones = np.ones((1, y.size))
    result = {}
    for m in metrics:
        new_value = float(resampled_metric(m, ones, y, new, threshold_new)[0])
        champion_value = float(resampled_metric(m, ones, y, champion, threshold_champion)[0])
        low, high = np.percentile(np.concatenate(differences[m]), [50 * alpha, 100 - 50 * alpha])
        result[m] = MetricComparison(
            metric=m,
            new=new_value,
            champion=champion_value,
            difference=new_value - champion_value,
            ci_low=float(low),
            ci_high=float(high),
            n_resamples=n_resamples,
            higher_is_better=m not in LOWER_IS_BETTER,
            confidence=1 - alpha,
        )
    return result


def delong_auc_covariance(y_true: np.ndarray, probas: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix, by the fast midrank algorithm of Sun & Xu (2014)."""
    from scipy.stats import rankdata

    y, arrays = _validate(y_true, *probas)
    scores = np.vstack(arrays)
    positives, negatives = scores[:, y == 1], scores[:, y == 0]
    m, n = positives.shape[1], negatives.shape[1]
    rank_within_pos = rankdata(positives, axis=1)
    rank_within_neg = rankdata(negatives, axis=1)
    rank_overall = rankdata(np.hstack([positives, negatives]), axis=1)
    aucs = rank_overall[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    # Structural components: per positive, the share of negatives it outranks; per negative, the
    # share of positives that outrank it (ties count half).
    v_pos = (rank_overall[:, :m] - rank_within_pos) / n
    v_neg = 1 - (rank_overall[:, m:] - rank_within_neg) / m
    cov_pos = np.atleast_2d(np.cov(v_pos)) if m > 1 else np.zeros((len(arrays), len(arrays)))
    cov_neg = np.atleast_2d(np.cov(v_neg)) if n > 1 else np.zeros((len(arrays), len(arrays)))
    return aucs, cov_pos / m + cov_neg / n


def auc_standard_error(y_true: np.ndarray, proba: np.ndarray) -> float:
    """DeLong's standard error of one ROC AUC."""
    _, cov = delong_auc_covariance(y_true, [proba])
    return float(np.sqrt(max(cov[0, 0], 0.0)))


def auc_difference(y_true: np.ndarray, proba_new: np.ndarray, proba_champion: np.ndarray) -> tuple[float, float]:
    """AUC(new) - AUC(champion) on the same rows and DeLong's variance of that difference."""
    aucs, cov = delong_auc_covariance(y_true, [proba_new, proba_champion])
    return float(aucs[0] - aucs[1]), float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])


def auc_difference_pvalue(y_true: np.ndarray, proba_new: np.ndarray, proba_champion: np.ndarray) -> float:
    """Two-sided p-value of AUC(new) - AUC(champion) on the same rows, by DeLong's test."""
    from scipy.stats import norm

    difference, variance = auc_difference(y_true, proba_new, proba_champion)
    if variance <= 1e-18:
        # Zero variance means the two rankings agree on every pair that matters.
        return 1.0 if abs(difference) < 1e-12 else 0.0
    return float(2 * norm.sf(abs(difference) / np.sqrt(variance)))


@dataclass(frozen=True)
class ComparisonPower:
    """What a comparison on these rows could have detected: DeLong's standard error of the AUC difference, the
    smallest true gain found significant with 80 % power, the power for gains of +0.01 and +0.02, and how alike the
    two models score (Spearman's rho: the more alike, the smaller the error of their difference)."""

    rows: int
    difference_se: float
    min_detectable_difference: float
    power_at_001: float
    power_at_002: float
    score_correlation: float

    def text(self) -> str:
        return (
            f"on these {self.rows} rows a true gain of {self.min_detectable_difference:+.4f} would be found with 80 % "
            f"power (+0.01: {self.power_at_001:.0%}, +0.02: {self.power_at_002:.0%}); the two models' scores "
            f"correlate at {self.score_correlation:.2f}"
        )


def comparison_power(
    y_true: np.ndarray, proba_new: np.ndarray, proba_champion: np.ndarray, alpha: float = 0.05
) -> ComparisonPower:
    """The power of the promotion test (DeLong's AUC difference, two-sided at `alpha`, in the new model's favour) at
    this sample, from the difference's standard error; a normal approximation."""
    from scipy.stats import norm, spearmanr

    se = float(np.sqrt(max(auc_difference(y_true, proba_new, proba_champion)[1], 0.0)))
    z = float(norm.isf(alpha / 2))

    def power(gain: float) -> float:
        return float(norm.sf(z - gain / se)) if se > 0 else 1.0

    correlation = spearmanr(proba_new, proba_champion).statistic
    return ComparisonPower(
        rows=int(np.asarray(y_true).size),
        difference_se=se,
        min_detectable_difference=(z + float(norm.isf(0.2))) * se,
        power_at_001=power(0.01),
        power_at_002=power(0.02),
        score_correlation=float(correlation) if np.isfinite(correlation) else 1.0,
    )


@dataclass(frozen=True)
class FloorVerdict:
    """A holdout AUC against a quality floor, judged with its interval: `passed` by the point estimate, `blocking`
    only when the whole interval is below the floor; `note` says which case, None when the interval clears it."""

    passed: bool
    blocking: bool
    low: float
    high: float
    note: str | None


def quality_floor_verdict(auc: float, se: float | None, floor: float, alpha: float = 0.05) -> FloorVerdict:
    from scipy.stats import norm

    margin = float(norm.isf(alpha / 2)) * float(se or 0.0)
    low, high = auc - margin, auc + margin
    if high < floor:
        note = f"is below the floor {floor:.2f}"
    elif auc < floor:
        note = (
            f"is below the floor {floor:.2f}, but not significantly: its interval reaches the floor, so it is a "
            "warning and does not block the evaluation"
        )
    elif low < floor:
        note = f"is at the floor {floor:.2f} or above, not shown above it"
    else:
        note = None
    return FloorVerdict(auc >= floor, high < floor, low, high, note)


def confidence_label(confidence: float) -> str:
    return f"{100 * confidence:.4g}%"


@dataclass(frozen=True)
class PromotionRule:
    alpha: float = 0.05
    max_champion_age_days: float = 30
    calibration_margin: float = 0.005  # the largest Brier score increase a promotion may bring


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    alias: str
    branch: str
    reason: str
    auc_new: float | None
    auc_champion: float | None
    auc_difference: float | None
    auc_ci_low: float | None
    auc_ci_high: float | None
    p_value: float | None
    champion_age_days: float | None
    alpha: float
    max_champion_age_days: float
    calibration_margin: float = PromotionRule.calibration_margin
    power: ComparisonPower | None = None
    # Only for a promotion as significantly better, which selected the gain it reports (medallion/logic/ml/selection.py)
    selection_adjusted: SelectionAdjusted | None = None

    def to_dict(self) -> dict:
        return asdict(self)


NOT_ADJUSTED = "not selected on a significant gain, so its difference is as measured, not selection-adjusted"


def decide_promotion(
    comparison: Mapping[str, MetricComparison] | MetricComparison | None,
    p_value: float | None,
    champion_age_days: float | None,
    rule: PromotionRule = PromotionRule(),
    feature_set_change: str | None = None,
    power: ComparisonPower | None = None,
) -> PromotionDecision:
    """Champion or challenger alias for a new model; `comparison` is None when there is no champion.

    `comparison` is the paired_bootstrap result (its "roc_auc" and, when present, "brier" entries are used) or
    the AUC entry itself; `p_value` is DeLong's. An unknown champion age never counts as stale. Every promotion
    over a champion also needs the Brier score not to rise by more than `calibration_margin`.
    `feature_set_change` describes a champion of another feature set that was still compared on these rows:
    a new version that is not worse then replaces it, since the champion cannot score today's features.
    A promotion as significantly better also reports its gain adjusted for that selection (from `power`'s DeLong
    standard error: the winner's curse, selection.py); the other promotions did not select on a gain and say so.
    """

    def decision(
        promote: bool,
        branch: str,
        reason: str,
        auc: MetricComparison | None = None,
        adjusted: SelectionAdjusted | None = None,
    ) -> PromotionDecision:
        return PromotionDecision(
            promote=promote,
            alias="champion" if promote else "challenger",
            branch=branch,
            reason=reason,
            auc_new=auc.new if auc else None,
            auc_champion=auc.champion if auc else None,
            auc_difference=auc.difference if auc else None,
            auc_ci_low=auc.ci_low if auc else None,
            auc_ci_high=auc.ci_high if auc else None,
            p_value=p_value,
            champion_age_days=champion_age_days,
            alpha=rule.alpha,
            max_champion_age_days=rule.max_champion_age_days,
            calibration_margin=rule.calibration_margin,
            power=power,
            selection_adjusted=adjusted,
        )

    if comparison is None:
        return decision(True, "no_champion", "there is no champion yet, so the new model becomes champion")
    auc = comparison if isinstance(comparison, MetricComparison) else comparison["roc_auc"]
    brier = None if isinstance(comparison, MetricComparison) else comparison.get("brier")
    if p_value is None:
        raise ValueError("a p-value is needed to compare against an existing champion")
    numbers = (
        f"AUC {auc.new:.4f} vs champion {auc.champion:.4f} (difference {auc.difference:+.4f}, "
        f"{confidence_label(auc.confidence)} CI [{auc.ci_low:+.4f}, {auc.ci_high:+.4f}], DeLong p = {p_value:.4g})"
    )
    is_stale = champion_age_days is not None and champion_age_days > rule.max_champion_age_days
    # "Not significantly worse": the interval of the difference reaches 0. It was non-inferiority at a 0.01 margin
    # (CI low above -0.01), which an equally good fresher model passed 99.6 %, 33 % or 6.8 % of the time depending on
    # how alike the two models score: a stale champion of another family lingered for months.
    not_worse = auc.ci_high >= 0
    adjusted = None
    if auc.difference > 0 and p_value < rule.alpha and auc.ci_low > 0:
        branch, reason = "significantly_better", f"significantly better than the champion: {numbers}"
        adjusted = _adjusted(auc.difference, power, rule.alpha, auc.confidence)
        if adjusted is not None:
            reason += f"; {adjusted.text()}"
    elif is_stale and not_worse:
        branch, reason = (
            "stale_champion_not_worse",
            f"the champion is {champion_age_days:.1f} days old (> {rule.max_champion_age_days:g}) and a model "
            f"trained on fresher data that is not significantly worse (its CI reaches 0) replaces an old one: "
            f"{numbers}; {NOT_ADJUSTED}",
        )
    elif feature_set_change and not_worse:
        branch, reason = (
            "feature_set_changed_not_worse",
            f"{feature_set_change}; the new version is not significantly worse, so it replaces a champion that "
            f"cannot score today's features: {numbers}; {NOT_ADJUSTED}",
        )
    elif feature_set_change:
        return decision(
            False,
            "feature_set_changed_worse",
            f"{feature_set_change}; the new version is significantly worse than the champion ({numbers}), so it "
            "stays challenger "
            "and predictions fail until the feature change is reverted or a version is promoted by hand",
            auc,
        )
    else:
        age = "unknown age" if champion_age_days is None else f"{champion_age_days:.1f} days old"
        return decision(
            False,
            "not_better",
            f"not shown better than the champion ({age}, stale after {rule.max_champion_age_days:g} days): "
            f"{numbers}; kept as challenger" + (f". Not shown is not shown worse: {power.text()}" if power else ""),
            auc,
        )
    if feature_set_change and not branch.startswith("feature_set_changed"):
        reason = f"{feature_set_change}; {reason}"
    if brier is not None and brier.difference > rule.calibration_margin:
        return decision(
            False,
            "worse_calibrated",
            f"would be {branch} ({numbers}) but its Brier score {brier.new:.4f} is {brier.difference:+.4f} above the "
            f"champion's {brier.champion:.4f} (more than the margin {rule.calibration_margin:g}); kept as challenger",
            auc,
        )
    if brier is not None:
        reason += f"; Brier {brier.new:.4f} vs {brier.champion:.4f} (difference {brier.difference:+.4f})"
    return decision(True, branch, reason, auc, adjusted)


def _adjusted(
    difference: float, power: ComparisonPower | None, alpha: float, confidence: float
) -> SelectionAdjusted | None:
    """The selection-adjusted gain, when DeLong's standard error is known and the gain cleared the threshold it was
    selected by (DeLong's p < alpha is that; should the two disagree by a rounding, nothing is adjusted)."""
    if power is None:
        return None
    try:
        return selection_adjusted_gain(difference, power.difference_se, alpha, confidence)
    except ValueError:
        return None
