import json
import math

import numpy as np
import polars as pl
import pytest

from medallion.logic.monitoring.drift import (
    bin_fractions,
    build_reference,
    feature_drift,
    load_reference,
    population_stability_index,
    psi_level,
    reference_bins,
)


def test_psi_known_value():
    expected = (
        (0.1 - 0.25) * math.log(0.1 / 0.25)
        + (0.2 - 0.25) * math.log(0.2 / 0.25)
        + (0.3 - 0.25) * math.log(0.3 / 0.25)
        + (0.4 - 0.25) * math.log(0.4 / 0.25)
    )
    assert population_stability_index([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(expected)
    assert expected == pytest.approx(0.2282, abs=1e-4)


def test_psi_of_identical_shares_is_zero_even_with_empty_bins():
    assert population_stability_index([0.5, 0.5, 0.0], [0.5, 0.5, 0.0]) == 0.0


def test_psi_clips_empty_bins_at_eps():
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert population_stability_index([1.0, 0.0], [0.5, 0.5], eps=1e-4) == pytest.approx(expected)


def test_psi_rejects_mismatched_bins():
    with pytest.raises(ValueError, match="3 expected bins but 2 actual"):
        population_stability_index([0.2, 0.3, 0.5], [0.5, 0.5])


def test_quantile_edges_give_equal_reference_shares():
    values = np.arange(1000, dtype=float)
    edges = reference_bins(values, n_bins=10)
    assert edges.size == 11 and edges[0] == -np.inf and edges[-1] == np.inf
    np.testing.assert_allclose(bin_fractions(edges, values), [0.1] * 10 + [0.0])


def test_constant_low_cardinality_and_null_columns():
    np.testing.assert_array_equal(reference_bins(np.full(50, 3.0)), [-np.inf, 3.0, np.inf])
    binary = np.array([0.0] * 70 + [1.0] * 30)
    edges = reference_bins(binary)
    np.testing.assert_array_equal(edges, [-np.inf, 0.0, 1.0, np.inf])
    np.testing.assert_allclose(bin_fractions(edges, binary), [0.7, 0.3, 0.0, 0.0])
    with_nulls = np.r_[binary, [np.nan] * 20]
    np.testing.assert_array_equal(reference_bins(with_nulls), edges)
    np.testing.assert_allclose(bin_fractions(edges, with_nulls), [70 / 120, 30 / 120, 0.0, 20 / 120])
    np.testing.assert_array_equal(reference_bins(np.array([None, None], dtype=float)), [-np.inf, np.inf])


def test_bins_are_right_closed():
    edges = np.array([-np.inf, 1.0, 2.0, np.inf])
    np.testing.assert_allclose(bin_fractions(edges, np.array([1.0, 1.5, 2.0, 2.5])), [0.25, 0.5, 0.25, 0.0])


def test_a_reference_separates_same_and_shifted_distributions():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=5000)
    bins = load_reference(build_reference(pl.DataFrame({"x": reference}), ["x"]))["x"]
    assert bins.psi(reference) == 0.0
    assert bins.psi(rng.normal(size=5000)) < 0.02
    assert bins.psi(rng.normal(loc=1.0, size=5000)) > 0.25


def test_levels():
    assert [psi_level(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "stable",
        "stable",
        "moderate",
        "moderate",
        "major",
        "major",
    ]


def test_reference_round_trips_through_strict_json():
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({"income": rng.lognormal(size=800), "count": rng.integers(0, 3, 800), "empty": [None] * 800})
    reference = build_reference(frame, ["income", "count", "empty"], n_bins=5)
    loaded = load_reference(json.loads(json.dumps(reference, allow_nan=False)))
    assert reference["n_rows"] == 800 and set(loaded) == {"income", "count", "empty"}
    np.testing.assert_array_equal(loaded["income"].edges, reference_bins(frame["income"].to_numpy(), 5))
    np.testing.assert_array_equal(loaded["count"].edges, [-np.inf, 0.0, 1.0, 2.0, np.inf])
    np.testing.assert_allclose(loaded["income"].fractions, [0.2] * 5 + [0.0])
    np.testing.assert_array_equal(loaded["empty"].fractions, [0.0, 1.0])
    with pytest.raises(ValueError, match="unsupported drift reference format"):
        load_reference({"features": {}})


def test_feature_drift_ranks_features_and_counts_nulls_as_a_bin():
    rng = np.random.default_rng(2)
    n = 4000
    training = pl.DataFrame({"steady": rng.normal(size=n), "shifted": rng.normal(size=n), "flag": np.ones(n)})
    reference = build_reference(training, ["steady", "shifted", "flag"])
    live = pl.DataFrame(
        {
            "steady": rng.normal(size=n),
            "shifted": rng.normal(loc=0.8, size=n),
            "flag": [1.0, None] * (n // 2),
        }
    )
    drift = feature_drift(reference, live)
    assert drift.columns == ["feature", "psi", "level", "p_value", "group"]
    assert drift["feature"].to_list() == ["flag", "shifted", "steady"]
    assert drift["level"].to_list() == ["major", "major", "stable"]
    assert drift["p_value"][0] == 0.0 and drift["p_value"][1] < 1e-6 and drift["p_value"][2] > 1e-3
    # flag: reference all in (-inf, 1] with no nulls; live half there, half null.
    flag_psi = (0.5 - 1.0) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert drift["psi"][0] == pytest.approx(flag_psi)
    assert drift.equals(feature_drift(load_reference(reference), live))


def test_feature_drift_needs_rows_and_columns():
    reference = build_reference(pl.DataFrame({"a": [1.0, 2.0, 3.0]}), ["a"])
    with pytest.raises(ValueError, match="lacks the column 'a'"):
        feature_drift(reference, pl.DataFrame({"b": [1.0]}))
    with pytest.raises(ValueError, match="empty frame"):
        feature_drift(reference, pl.DataFrame({"a": []}, schema={"a": pl.Float64}))
