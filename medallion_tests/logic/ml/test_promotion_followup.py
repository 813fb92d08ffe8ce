"""Issue 22, finding 5 (b): the plain judgement behind the `promotions_held` check (the check itself is tested end to
end in medallion_tests/ml/test_promotion_followup.py)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from medallion.logic.ml.promotion_followup import (
    HELD,
    NOT_CONFIRMED,
    REVERSED,
    TOO_FEW_ROWS,
    FollowUp,
    Promotion,
    follow_up,
    later_rows,
    not_scored,
    promotions_to_follow,
    summarize,
)

DAY = date(2025, 6, 1)
PROMOTION = Promotion(
    "3", "2", "significantly_better", date(2025, 5, 4), "2025-04-20..2025-05-01", 0.0071, 0.0027, 0.0115
)


def scored(rows: int, gain: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binormal scores: the champion's true AUC 0.75, the new version's 0.75 + gain, correlated at 0.8."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.22).astype(int)
    common, own = rng.normal(size=rows), rng.normal(size=(2, rows))
    noise = np.sqrt(0.8) * common + np.sqrt(0.2) * own
    return y, np.sqrt(2) * norm.ppf(0.75 + gain) * y + noise[0], np.sqrt(2) * norm.ppf(0.75) * y + noise[1]


@pytest.mark.parametrize(
    ("gain", "verdict"), [(0.05, HELD), (0.0, NOT_CONFIRMED), (-0.05, REVERSED)], ids=["better", "equal", "worse"]
)
def test_the_realised_gain_and_its_interval_give_the_verdict(gain, verdict):
    # With +-0.05 the interval (about +-0.012 wide here) is far from 0; with equal models it covers 0 in 95 % of draws,
    # this seed's among them (seed 3's is not: a 5 % event).
    y, new, old = scored(4000, gain, seed=1)
    found = follow_up(PROMOTION, y, new, old, "2025-05-02..2025-06-01")
    assert found.verdict == verdict and found.rows == 4000
    assert found.realised_low < found.realised < found.realised_high
    assert found.realised_high - found.realised == pytest.approx(norm.isf(0.025) * found.realised_se)
    assert "on 4000 later rows of application days 2025-05-02..2025-06-01: " + verdict in found.text()
    assert found.text().startswith(
        "v3 over v2 (significantly_better, evaluated 2025-05-04): claimed +0.0071 [+0.0027, +0.0115], "
        "not selection-adjusted (significantly_better)"
    )


def test_too_few_or_one_class_rows_pass_saying_so():
    y, new, old = scored(99, 0.05)
    few = follow_up(PROMOTION, y, new, old, "2025-05-30..2025-06-01")
    assert few.verdict == TOO_FEW_ROWS and few.realised is None and few.rows == 99
    assert "99 labelled later rows of application days 2025-05-30..2025-06-01 (the promotion needed at least 100" in (
        few.text()
    )
    one_class = follow_up(PROMOTION, np.zeros(500), new[:1].repeat(500), old[:1].repeat(500), "d")
    assert one_class.verdict == TOO_FEW_ROWS and "500 labelled later rows of one class" in one_class.note
    none = follow_up(PROMOTION, [], [], [], "")
    assert none.verdict == TOO_FEW_ROWS and "0 labelled later rows of application days none" in none.note
    assert summarize([few, one_class, none], DAY).passed


def test_only_a_reversal_fails_the_check():
    y, new, old = scored(4000, 0.05, seed=3)
    held = follow_up(PROMOTION, y, new, old, "days")
    reversed_ = follow_up(
        Promotion("4", "3", "stale_champion_not_worse", DAY, "w", -0.001, -0.006, 0.004), y, old, new, "days"
    )
    passing = summarize([held, not_scored(PROMOTION, "a version is no longer in the registry")], DAY)
    assert passing.passed and passing.description.startswith(
        "no promotion reversed on later rows (1 held, 1 not scored):"
    )
    failing = summarize([held, reversed_], DAY)
    assert not failing.passed and failing.counts[REVERSED] == 1
    lines = failing.description.splitlines()
    assert lines[0] == "1 of 2 promotions reversed on later rows:" and lines[1].startswith("- v4 over v3")  # first
    nothing = summarize([], DAY)
    assert (
        nothing.passed
        and nothing.description == "no promotion over a champion was evaluated in the 90 days up to 2025-06-01"
    )


def evaluation_row(version: str, day: date, **changes) -> dict:
    row = {
        "partition_date": day,
        "new_version": version,
        "champion_version": str(int(version) - 1),
        "decision": "significantly_better",
        "promoted": True,
        "evaluation_window": "w",
        "roc_auc_difference": 0.01,
        "roc_auc_ci_low": 0.002,
        "roc_auc_ci_high": 0.018,
        "selection_adjusted_auc_difference": 0.008,
        "selection_adjusted_auc_low": -0.001,
        "selection_adjusted_auc_high": 0.017,
    }
    return {**row, **changes}


def test_the_promotions_followed_are_recent_and_over_a_compared_champion():
    rows = [
        evaluation_row("2", DAY - timedelta(days=91)),  # too old
        evaluation_row("4", DAY - timedelta(days=14)),
        evaluation_row("3", DAY - timedelta(days=90)),
        evaluation_row("5", DAY - timedelta(days=7), promoted=False, decision="not_better"),
        evaluation_row("6", DAY, champion_version=None, decision="no_champion"),
        evaluation_row("7", DAY, decision="feature_set_changed_not_comparable", roc_auc_difference=None),
        evaluation_row("8", DAY + timedelta(days=1)),  # after the day followed up
    ]
    found = promotions_to_follow(rows, DAY)
    assert [p.version for p in found] == ["3", "4"]
    assert (found[1].claimed, found[1].adjusted, found[1].adjusted_low) == (0.01, 0.008, -0.001)
    assert "selection-adjusted +0.0080 [-0.0010, +0.0170]" in found[1].claim_text()
    # A row written before the selection-adjusted columns existed.
    old = {k: v for k, v in evaluation_row("9", DAY).items() if not k.startswith("selection_adjusted")}
    assert promotions_to_follow([old], DAY)[0].adjusted is None


def test_the_later_rows_start_after_every_day_either_version_used():
    frame = pl.DataFrame({"application_date": [DAY - timedelta(days=i) for i in range(10)], "label": [0, 1] * 5})
    rows, days = later_rows(frame, [DAY - timedelta(days=6), DAY - timedelta(days=8)], DAY)
    assert rows.height == 6 and days == f"{DAY - timedelta(days=5)}..{DAY}"
    none, no_days = later_rows(frame, [DAY], DAY)
    assert none.height == 0 and no_days == ""


def test_the_table_row_has_every_column_and_none_where_there_is_no_number():
    record = FollowUp(PROMOTION, TOO_FEW_ROWS, 0, "", note="n").record()
    assert record["realised"] is None and record["adjusted"] is None and record["claimed"] == 0.0071
