"""Population stability index (PSI) of features and predictions against a training-time reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

STABLE_BELOW = 0.1
MODERATE_BELOW = 0.25
REFERENCE_FORMAT = 1
GROUP_MIN_ABS_CORRELATION = 0.8


def _non_null(values: np.ndarray | Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[~np.isnan(array)]


def reference_bins(values: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Quantile bin edges with -inf/+inf outer edges; bins are right-closed (a, b].

    Edges are observed values (inverted-CDF quantiles) and repeated ones collapse, so a constant
    column gets two bins (<= c, > c) and a low-cardinality column one bin per value; nulls
    (None/NaN) are ignored.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    present = np.sort(_non_null(values))
    # Inverted-CDF quantile positions in integer arithmetic: float ones (0.6 * 800) may round up a row.
    positions = (np.arange(1, n_bins) * present.size + n_bins - 1) // n_bins - 1
    inner = np.unique(present[positions]) if present.size else np.array([])
    inner = inner[np.isfinite(inner)]
    return np.concatenate([[-np.inf], inner, [np.inf]])


def bin_fractions(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of values in each bin, plus a last entry for the share of nulls."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("no values to bin")
    is_null = np.isnan(array)
    bins = np.clip(np.searchsorted(edges, array[~is_null], side="left") - 1, 0, len(edges) - 2)
    counts = np.bincount(bins, minlength=len(edges) - 1)
    return np.append(counts, is_null.sum()) / array.size


def population_stability_index(
    expected_fractions: Sequence[float], actual_fractions: Sequence[float], eps: float = 1e-4
) -> float:
    """PSI = sum((a - e) * ln(a / e)), with both shares clipped below at eps so empty bins stay finite."""
    expected = np.clip(np.asarray(expected_fractions, dtype=float), eps, None)
    actual = np.clip(np.asarray(actual_fractions, dtype=float), eps, None)
    if expected.shape != actual.shape:
        raise ValueError(f"{expected.size} expected bins but {actual.size} actual bins")
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _no_drift_scale(reference_fractions: Sequence[float], n: int, n_reference: int | None) -> tuple[int, float]:
    filled = int(np.count_nonzero(np.asarray(reference_fractions) > 0))
    return filled - 1, 1 / n + (1 / n_reference if n_reference else 0.0)


# Below this many expected rows in a filled bin (of the window or of the reference) the χ² approximation is
# anti-conservative: an empty bin of a 1 % category is worth PSI ≈ 0.046 through the 1e-4 clipping, and at n = 200
# pay_status_2's p < 0.01 came 7.6 % of the time with no drift. Even 20 rows a bin (10 even bins, n = 200) give
# p < 0.01 in 1.4 % and p < 0.00048 (a rule's share of the yearly budget) in 0.10 % of no-drift windows; at 175 rows a
# bin it is exact (0.0101 and 0.00049, 400,000 draws). Such p-values are simulated instead.
SPARSE_EXPECTED_ROWS = 50
NO_DRIFT_SIMULATIONS = 10_000


def psi_p_value(
    psi: float, reference_fractions: Sequence[float], n: int, n_reference: int | None, eps: float = 1e-4
) -> float:
    """How often a sample of `n` rows drawn with no drift reaches this PSI.

    With no drift, PSI ≈ Σ (a - e)² / e, Pearson's chi-square statistic over n, so PSI / (1/n + 1/n_reference)
    follows χ² with (filled bins - 1) degrees of freedom; the second term is the reference's own sampling noise.
    At n = 200 over 10 bins the no-drift PSI averages about 0.045 and its 99th percentile is about 0.11. When a
    filled bin expects fewer than SPARSE_EXPECTED_ROWS rows, the no-drift PSI is simulated instead (seeded, so the
    same inputs give the same p-value): the window and the reference drawn from the reference's shares, PSI computed
    as it is measured, clipping included.
    """
    from scipy.stats import chi2

    n = max(n, 1)
    df, scale = _no_drift_scale(reference_fractions, n, n_reference)
    if df < 1:  # one filled bin: with no drift every row lands in it, so any PSI at all is drift
        return 0.0 if psi > 1e-9 else 1.0
    shares = np.asarray(reference_fractions, dtype=float)
    filled = shares[shares > 0]
    sizes = [n] + ([n_reference] if n_reference else [])
    if min(filled) * min(sizes) >= SPARSE_EXPECTED_ROWS:
        return float(chi2.sf(psi / scale, df))
    return simulated_psi_p_value(psi, shares, n, n_reference, eps)


def simulated_psi_p_value(psi: float, shares: np.ndarray, n: int, n_reference: int | None, eps: float = 1e-4) -> float:
    """The share of NO_DRIFT_SIMULATIONS no-drift draws whose PSI reaches `psi` (with the observed one counted)."""
    simulated = _no_drift_psis(tuple(float(share) for share in shares), n, n_reference, eps)
    reached = simulated.size - np.searchsorted(simulated, psi - 1e-12, side="left")
    return float((1 + reached) / (1 + simulated.size))


@lru_cache(maxsize=256)
def _no_drift_psis(shares: tuple[float, ...], n: int, n_reference: int | None, eps: float) -> np.ndarray:
    """Sorted PSIs of no-drift draws: every window of a monitoring run and feature shares one reference and size."""
    rng = np.random.default_rng(20_221_122)
    probabilities = np.asarray(shares) / sum(shares)
    window = rng.multinomial(n, probabilities, size=NO_DRIFT_SIMULATIONS) / n
    reference = (
        rng.multinomial(n_reference, probabilities, size=NO_DRIFT_SIMULATIONS) / n_reference
        if n_reference
        else np.broadcast_to(probabilities, window.shape)
    )
    expected, actual = np.clip(reference, eps, None), np.clip(window, eps, None)
    return np.sort(np.sum((actual - expected) * np.log(actual / expected), axis=1))


def psi_critical_value(reference_fractions: Sequence[float], n: int, n_reference: int | None, alpha: float) -> float:
    """The PSI that no-drift samples of `n` rows exceed with probability `alpha`."""
    from scipy.stats import chi2

    df, scale = _no_drift_scale(reference_fractions, max(n, 1), n_reference)
    return float(chi2.isf(alpha, df) * scale) if df >= 1 else float("inf")


def correlated_groups(
    frame: pl.DataFrame, feature_names: Sequence[str], min_abs_correlation: float = GROUP_MIN_ABS_CORRELATION
) -> dict[str, str]:
    """Each feature's group: features linked by a rank correlation of at least `min_abs_correlation` (directly or
    through others) share a group, named after its first member, so that they drift as one (six bill amounts count
    once)."""
    names = list(feature_names)
    ranks = frame.select(pl.col(names).cast(pl.Float64).fill_nan(None).rank()).fill_null(strategy="mean").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.nan_to_num(np.corrcoef(ranks, rowvar=False), nan=0.0) if frame.height > 2 else None
    parent = list(range(len(names)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if correlation is not None:
        for i, j in zip(*np.nonzero(np.triu(np.abs(correlation) >= min_abs_correlation, k=1)), strict=True):
            parent[max(root(i), root(j))] = min(root(i), root(j))
    return {name: names[root(i)] for i, name in enumerate(names)}


def psi_level(value: float) -> str:
    if value < STABLE_BELOW:
        return "stable"
    if value < MODERATE_BELOW:
        return "moderate"
    return "major"


@dataclass(frozen=True)
class FeatureReference:
    """Training-time bins of one feature: edges and the reference share per bin (last share: nulls)."""

    feature: str
    edges: np.ndarray
    fractions: np.ndarray
    n_rows: int | None = None
    group: str | None = None

    def p_value(self, psi: float, n: int) -> float:
        return psi_p_value(psi, self.fractions, n, self.n_rows)

    def psi(self, values: np.ndarray, eps: float = 1e-4) -> float:
        return population_stability_index(self.fractions, bin_fractions(self.edges, values), eps)

    def to_dict(self) -> dict[str, Any]:
        # Only the finite inner edges are stored: strict JSON has no infinity.
        return {"inner_edges": [float(e) for e in self.edges[1:-1]], "fractions": [float(f) for f in self.fractions]}

    @classmethod
    def from_dict(
        cls, feature: str, data: Mapping[str, Any], n_rows: int | None = None, group: str | None = None
    ) -> FeatureReference:
        edges = np.concatenate([[-np.inf], np.asarray(data["inner_edges"], dtype=float), [np.inf]])
        fractions = np.asarray(data["fractions"], dtype=float)
        if fractions.size != edges.size:
            raise ValueError(f"reference of {feature!r} has {fractions.size} shares for {edges.size - 1} bins + nulls")
        return cls(feature=feature, edges=edges, fractions=fractions, n_rows=n_rows, group=group)


def _column(frame: pl.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise ValueError(f"frame lacks the column {name!r}")
    return frame[name].cast(pl.Float64).to_numpy()


def build_reference(
    frame: pl.DataFrame, feature_names: Sequence[str], n_bins: int = 10, groups: bool = False
) -> dict[str, Any]:
    """JSON-serialisable bins and shares of each feature (e.g. of the training set), and with `groups` each
    feature's group of correlated features."""
    if frame.is_empty():
        raise ValueError("cannot build a drift reference from an empty frame")
    features = {}
    for name in feature_names:
        values = _column(frame, name)
        edges = reference_bins(values, n_bins)
        features[name] = FeatureReference(name, edges, bin_fractions(edges, values)).to_dict()
    reference = {"format": REFERENCE_FORMAT, "n_bins": n_bins, "n_rows": frame.height, "features": features}
    if groups:
        reference["groups"] = correlated_groups(frame, feature_names)
    return reference


def load_reference(data: Mapping[str, Any]) -> dict[str, FeatureReference]:
    if data.get("format") != REFERENCE_FORMAT:
        raise ValueError(f"unsupported drift reference format {data.get('format')!r}; expected {REFERENCE_FORMAT}")
    groups = data.get("groups", {})
    return {
        name: FeatureReference.from_dict(name, entry, data.get("n_rows"), groups.get(name, name))
        for name, entry in data["features"].items()
    }


DRIFT_SCHEMA = {"feature": pl.String, "psi": pl.Float64, "level": pl.String, "p_value": pl.Float64, "group": pl.String}


def feature_drift(
    reference: Mapping[str, FeatureReference] | Mapping[str, Any], frame: pl.DataFrame, eps: float = 1e-4
) -> pl.DataFrame:
    """PSI, level, no-drift p-value at this many rows (psi_p_value) and correlated group of every referenced
    feature in `frame`, most drifted first.

    Nulls in `frame` count as their own bin, compared with the null share at reference time, so a
    feature that starts arriving empty shows up as drift rather than vanishing from the shares.
    `reference` is the output of build_reference or of load_reference.
    """
    if "features" in reference and "format" in reference:
        reference = load_reference(reference)
    if frame.is_empty():
        raise ValueError("cannot measure drift on an empty frame")
    rows = []
    for name, ref in reference.items():
        psi = ref.psi(_column(frame, name), eps)
        rows.append((name, psi, ref.p_value(psi, frame.height), ref.group or name))
    return pl.DataFrame(
        {
            "feature": [name for name, *_ in rows],
            "psi": [value for _, value, *_ in rows],
            "level": [psi_level(value) for _, value, *_ in rows],
            "p_value": [p for *_, p, _ in rows],
            "group": [group for *_, group in rows],
        },
        schema=DRIFT_SCHEMA,
    ).sort(["psi", "feature"], descending=[True, False])
