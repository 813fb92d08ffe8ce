"""Population stability index (PSI) of features and predictions against a training-time reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

STABLE_BELOW = 0.1
MODERATE_BELOW = 0.25
REFERENCE_FORMAT = 1


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

    def psi(self, values: np.ndarray, eps: float = 1e-4) -> float:
        return population_stability_index(self.fractions, bin_fractions(self.edges, values), eps)

    def to_dict(self) -> dict[str, Any]:
        # Only the finite inner edges are stored: strict JSON has no infinity.
        return {"inner_edges": [float(e) for e in self.edges[1:-1]], "fractions": [float(f) for f in self.fractions]}

    @classmethod
    def from_dict(cls, feature: str, data: Mapping[str, Any]) -> FeatureReference:
        edges = np.concatenate([[-np.inf], np.asarray(data["inner_edges"], dtype=float), [np.inf]])
        fractions = np.asarray(data["fractions"], dtype=float)
        if fractions.size != edges.size:
            raise ValueError(f"reference of {feature!r} has {fractions.size} shares for {edges.size - 1} bins + nulls")
        return cls(feature=feature, edges=edges, fractions=fractions)


def _column(frame: pl.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise ValueError(f"frame lacks the column {name!r}")
    return frame[name].cast(pl.Float64).to_numpy()


def build_reference(frame: pl.DataFrame, feature_names: Sequence[str], n_bins: int = 10) -> dict[str, Any]:
    """JSON-serialisable bins and shares of each feature (e.g. of the training set)."""
    if frame.is_empty():
        raise ValueError("cannot build a drift reference from an empty frame")
    features = {}
    for name in feature_names:
        values = _column(frame, name)
        edges = reference_bins(values, n_bins)
        features[name] = FeatureReference(name, edges, bin_fractions(edges, values)).to_dict()
    return {"format": REFERENCE_FORMAT, "n_bins": n_bins, "n_rows": frame.height, "features": features}


def load_reference(data: Mapping[str, Any]) -> dict[str, FeatureReference]:
    if data.get("format") != REFERENCE_FORMAT:
        raise ValueError(f"unsupported drift reference format {data.get('format')!r}; expected {REFERENCE_FORMAT}")
    return {name: FeatureReference.from_dict(name, entry) for name, entry in data["features"].items()}


def feature_drift(
    reference: Mapping[str, FeatureReference] | Mapping[str, Any], frame: pl.DataFrame, eps: float = 1e-4
) -> pl.DataFrame:
    """PSI and level of every referenced feature in `frame`, most drifted first.

    Nulls in `frame` count as their own bin, compared with the null share at reference time, so a
    feature that starts arriving empty shows up as drift rather than vanishing from the shares.
    `reference` is the output of build_reference or of load_reference.
    """
    if "features" in reference and "format" in reference:
        reference = load_reference(reference)
    if frame.is_empty():
        raise ValueError("cannot measure drift on an empty frame")
    rows = [(name, ref.psi(_column(frame, name), eps)) for name, ref in reference.items()]
    return pl.DataFrame(
        {
            "feature": [name for name, _ in rows],
            "psi": [value for _, value in rows],
            "level": [psi_level(value) for _, value in rows],
        },
        schema={"feature": pl.String, "psi": pl.Float64, "level": pl.String},
    ).sort(["psi", "feature"], descending=[True, False])
