"""The gain a promotion reports, adjusted for having been promoted (issue 22, finding 5: the winner's curse).

A version is promoted as "significantly better" only when its AUC difference d over the champion clears the test:
d / s > z_{1 - alpha/2}, s being DeLong's standard error of the difference. Among promoted versions the reported d is
therefore biased upward: of equally good models (true gain 0) the ones promoted report about +2.3 s on average.

The adjustment conditions on that selection. With D ~ N(delta, s^2) truncated to D > c * s (c = z_{1 - alpha/2}), the
probability P(D >= d | D > c * s; delta) rises with delta from 0 to 1. The delta at which it is 1/2 is the
conditional median-unbiased estimate of the true gain; the deltas at which it is (1 - confidence)/2 and
(1 + confidence)/2 bound a conditional interval that covers the true gain at its nominal rate among the promoted
versions. Far above the threshold the truncation hardly matters and the estimate is d; just above it the estimate is
pulled strongly towards 0 (it can be below 0) and the interval's low end runs far below 0: a bare pass says little.

The normal model is DeLong's own approximation; s is taken as known (it is estimated from the same rows).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

_MAX_EXPANSIONS = 60


@dataclass(frozen=True)
class SelectionAdjusted:
    """An observed AUC difference and its standard error, the promotion threshold (in standard errors) it was selected
    by, and the conditional median-unbiased estimate of the true difference with its conditional interval."""

    observed: float
    se: float
    threshold_z: float
    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def text(self) -> str:
        level = f"{100 * self.confidence:.4g}%"
        return (
            f"selection-adjusted {self.estimate:+.4f} ({level} CI [{self.low:+.4f}, {self.high:+.4f}]; the "
            f"median-unbiased gain given that only a gain more than {self.threshold_z:.2f} standard errors above 0 "
            "is promoted)"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def selection_threshold(alpha: float) -> float:
    """The z a gain must exceed to be promoted as significantly better: two-sided at `alpha`, in the new model's
    favour."""
    from scipy.special import ndtri

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(-ndtri(alpha / 2))  # norm.isf(alpha / 2), without scipy.stats' per-call overhead


def conditional_exceedance(difference: float, se: float, threshold_z: float, delta: float) -> float:
    """P(D >= difference | D > threshold_z * se) for D ~ N(delta, se^2): how surprising `difference` is among the
    selected when the true difference is `delta`."""
    from scipy.special import log_ndtr

    t, c, mu = difference / se, threshold_z, delta / se
    return float(math.exp(log_ndtr(mu - t) - log_ndtr(mu - c)))


def _solve(t: float, c: float, q: float) -> float:
    """The mu (in standard errors) at which P(Z >= t | Z > c) = q for Z ~ N(mu, 1); -inf when it lies beyond reach."""
    from scipy.optimize import brentq
    from scipy.special import log_ndtr

    target = math.log(q)

    def excess(mu: float) -> float:
        # Log survival functions (log_ndtr(-x) = log P(Z > x)) keep both tails accurate far from mu, where plain ones
        # underflow to 0/0.
        return float(log_ndtr(mu - t) - log_ndtr(mu - c)) - target

    high, step = t + 10.0, 10.0
    for _ in range(_MAX_EXPANSIONS):
        if excess(high) > 0:
            break
        high, step = high + step, step * 2
    low, step = min(t, c) - 10.0, 10.0
    for _ in range(_MAX_EXPANSIONS):
        if excess(low) < 0:
            break
        low, step = low - step, step * 2
    else:
        return -math.inf
    return float(brentq(excess, low, high, xtol=1e-12, rtol=1e-12, maxiter=500))


def selection_adjusted_gain(
    difference: float, se: float, alpha: float = 0.05, confidence: float = 0.95
) -> SelectionAdjusted:
    """The conditional (truncated-normal) median-unbiased estimate of the true AUC difference and its conditional
    interval, given that `difference` was reported only because difference / se > z_{1 - alpha/2}.

    Raises ValueError when the difference did not clear that threshold (it was then not selected by it). A zero
    standard error leaves nothing to adjust: the estimate and both bounds are the difference itself."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    c = selection_threshold(alpha)
    if not (math.isfinite(difference) and math.isfinite(se)) or se < 0:
        raise ValueError(f"difference and standard error must be finite (se >= 0), got {difference}, {se}")
    if se == 0:
        return SelectionAdjusted(difference, se, c, difference, difference, difference, confidence)
    t = difference / se
    if t <= c:
        raise ValueError(
            f"the difference {difference:+.4g} is {t:.3f} standard errors above 0, not above the selection threshold "
            f"{c:.3f}: it was not selected by it"
        )
    tail = (1 - confidence) / 2
    estimate, low, high = (se * _solve(t, c, q) for q in (0.5, tail, 1 - tail))
    return SelectionAdjusted(difference, se, c, estimate, low, high, confidence)
