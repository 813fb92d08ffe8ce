"""Issue 11, finding 2: how often champion/challenger promotes a model that is not better, on seeded synthetic days.

The champion and three candidates are logistic regressions fitted once, each on a feature of its own; the label
depends on the four features alike, so all have the same true ROC AUC. Each repetition draws fresh days: training
picks the candidate with the best AUC on its selection days (the winner's curse), then `compare_with_champion` judges
it on its holdout days after the champion's, as ml/model_evaluation does. A promotion "significantly_better" is then
a false one; the comparison allows it at rate alpha (two-sided, so about alpha / 2 in the new model's favour).
Judging the winner on the days that selected it instead (the finding) promotes more often, which shows the
simulation can tell the two apart.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from medallion.logic.ml.champion import Contender, compare_with_champion
from medallion.logic.ml.evaluation import PromotionRule
from medallion.logic.ml.training import build_pipeline, feature_matrix
from medallion.logic.monitoring.measures import roc_auc

REPETITIONS, ROWS_PER_DAY, DAYS = 300, 60, 10  # per repetition: 5 selection days, then 5 holdout days
FEATURES = ["x0", "x1", "x2", "x3"]  # x0 is the champion's; x1..x3 the candidates'
WEIGHT, INTERCEPT = 0.6, -1.2  # each single-feature model has a true AUC of 0.636, positives 28 %
AS_OF = date(2025, 3, 1)
FIRST_DAY = AS_OF - timedelta(days=DAYS)
SELECTION_END = FIRST_DAY + timedelta(days=DAYS // 2 - 1)
RULE = PromotionRule()
RESAMPLES = 200


def draw(rng: np.random.Generator, rows: int, first: date, days: int) -> pl.DataFrame:
    x = rng.normal(size=(rows, len(FEATURES)))
    y = rng.random(rows) < 1 / (1 + np.exp(-(INTERCEPT + WEIGHT * x.sum(axis=1))))
    dates = [first + timedelta(days=int(i * days / rows)) for i in range(rows)]
    return pl.DataFrame({**dict(zip(FEATURES, x.T, strict=True)), "label": y.astype(np.int8)}).with_columns(
        pl.Series("application_date", dates, pl.Date)
    )


@pytest.fixture(scope="module")
def models() -> dict[str, Contender]:
    """Each feature's model, fitted once on 50,000 rows; the champion used days up to before the simulated ones."""
    fitted = draw(np.random.default_rng(7), 50_000, FIRST_DAY - timedelta(days=200), 100)
    found = {}
    for name in FEATURES:
        pipeline = build_pipeline("logistic_regression", [name], seed=0)
        pipeline.fit(feature_matrix(fitted, [name]), fitted["label"].to_numpy())
        found[name] = Contender(
            version=name,
            pipeline=pipeline,
            threshold=0.5,
            feature_set_version="simulated",
            feature_names=[name],
            holdout_start=SELECTION_END + timedelta(days=1),
            holdout_end=AS_OF - timedelta(days=1),
            trained_as_of=AS_OF - timedelta(days=7),  # younger than max_champion_age_days: never stale
        )
    champion_end = FIRST_DAY - timedelta(days=1)
    found["x0"] = replace(found["x0"], holdout_start=champion_end - timedelta(days=29), holdout_end=champion_end)
    return found


def promotion_rates(models: dict[str, Contender]) -> tuple[float, float]:
    """False promotion rates (on the winner's holdout days after the champion's, on the days that selected it)."""
    rng = np.random.default_rng(20251111)
    disjoint = on_selection_days = 0
    for _ in range(REPETITIONS):
        days = draw(rng, ROWS_PER_DAY * DAYS, FIRST_DAY, DAYS)
        selection = days.filter(pl.col("application_date") <= SELECTION_END)
        y = selection["label"].to_numpy()
        winner = max(
            FEATURES[1:],
            key=lambda name: roc_auc(y, models[name].pipeline.predict_proba(feature_matrix(selection, [name]))[:, 1]),
        )
        judged = compare_with_champion(
            days, models[winner], models["x0"], "label", AS_OF, RULE, n_resamples=RESAMPLES, seed=0
        )
        assert judged.n_rows == days.height - selection.height  # its holdout days only
        disjoint += judged.decision.branch == "significantly_better"
        # The finding's comparison: the winner judged on the rows it was chosen on.
        chosen_on = replace(models[winner], holdout_start=FIRST_DAY, holdout_end=SELECTION_END)
        biased = compare_with_champion(
            selection, chosen_on, models["x0"], "label", AS_OF, RULE, n_resamples=RESAMPLES, seed=0
        )
        on_selection_days += biased.decision.branch == "significantly_better"
    return disjoint / REPETITIONS, on_selection_days / REPETITIONS


def test_equal_models_are_promoted_at_most_at_alpha_on_days_neither_model_used(models):
    disjoint, on_selection_days = promotion_rates(models)
    print(f"false promotions: {disjoint:.1%} on disjoint days, {on_selection_days:.1%} on the selection days")
    # The one-sided limit is alpha / 2 (a two-sided test, promoting only in the new model's favour); two Monte Carlo
    # standard errors of a rate near it over 300 repetitions (0.9 %) above that. It allowed up to 6 % before.
    monte_carlo_se = (RULE.alpha / 2 * (1 - RULE.alpha / 2) / REPETITIONS) ** 0.5
    assert disjoint <= RULE.alpha / 2 + 2 * monte_carlo_se, disjoint
    assert on_selection_days > disjoint
