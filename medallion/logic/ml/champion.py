"""Champion/challenger on the same rows: which rows are fair to both models, the statistics, the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from medallion.logic.ml.evaluation import (
    METRICS,
    PromotionDecision,
    PromotionRule,
    auc_difference_pvalue,
    decide_promotion,
    paired_bootstrap,
)
from medallion.logic.ml.training import feature_matrix

MIN_EVALUATION_ROWS = 100


@dataclass(frozen=True)
class Contender:
    """A registered model version as the comparison needs it."""

    version: str
    pipeline: Any
    threshold: float
    feature_set_version: str
    train_end: date
    trained_as_of: date


@dataclass
class ChampionComparison:
    decision: PromotionDecision
    champion_version: str | None
    n_rows: int
    evaluation_window: str
    comparisons: dict = field(default_factory=dict)

    def as_row(self, as_of: date, new_version: str) -> pl.DataFrame:
        d = self.decision
        row = {
            "partition_date": as_of,
            "new_version": new_version,
            "champion_version": self.champion_version,
            "decision": d.branch,
            "promoted": d.promote,
            "alias": d.alias,
            "reason": d.reason,
            "evaluation_rows": self.n_rows,
            "evaluation_window": self.evaluation_window,
            "auc_p_value": d.p_value,
            "champion_age_days": d.champion_age_days,
        }
        numbers = {"auc_p_value": pl.Float64, "champion_age_days": pl.Float64}
        for name in METRICS:
            c = self.comparisons.get(name)
            for part in ("new", "champion", "difference", "ci_low", "ci_high"):
                row[f"{name}_{part}"] = getattr(c, part) if c else None
                numbers[f"{name}_{part}"] = pl.Float64
        return pl.DataFrame([row], schema_overrides={"champion_version": pl.String, **numbers})

    def markdown(self) -> str:
        if not self.comparisons:
            return f"**{self.decision.branch}**: {self.decision.reason}"
        lines = ["| metric | new | champion | difference | 95% CI |", "|---|---|---|---|---|"]
        for name, c in self.comparisons.items():
            lines.append(
                f"| {name} | {c.new:.4f} | {c.champion:.4f} | {c.difference:+.4f} | "
                f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] |"
            )
        return "\n".join(
            lines
            + [
                "",
                f"**{self.decision.branch}** on {self.n_rows} rows ({self.evaluation_window}): {self.decision.reason}",
            ]
        )


def _fixed(promote: bool, branch: str, reason: str, rule: PromotionRule) -> PromotionDecision:
    return PromotionDecision(
        promote,
        "champion" if promote else "challenger",
        branch,
        reason,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        rule.alpha,
        rule.max_champion_age_days,
        rule.non_inferiority_margin,
    )


def compare_with_champion(
    training_set: pl.DataFrame,
    new: Contender,
    champion: Contender | None,
    valid_window: tuple[date, date],
    feature_names: list[str],
    label: str,
    as_of: date,
    rule: PromotionRule,
    n_resamples: int = 1000,
    seed: int = 0,
) -> ChampionComparison:
    """Score the newest labelled rows that neither model was fitted on with both, and decide the aliases.

    The rows are the new version's validation days, minus any day the champion was trained on.
    """
    if champion is None:
        return ChampionComparison(decide_promotion(None, None, None, rule), None, 0, "")
    if champion.version == new.version:
        return ChampionComparison(
            _fixed(True, "already_champion", f"version {new.version} already holds the champion alias", rule),
            champion.version,
            0,
            "",
        )
    if champion.feature_set_version != new.feature_set_version:
        return ChampionComparison(
            _fixed(
                True,
                "feature_set_changed",
                f"the champion (v{champion.version}) was trained on feature set {champion.feature_set_version}, "
                f"which gold no longer produces ({new.feature_set_version}); it cannot score today's features, "
                "so the new version replaces it",
                rule,
            ),
            champion.version,
            0,
            "",
        )
    first = max(valid_window[0], champion.train_end + timedelta(days=1))
    rows = training_set.filter(pl.col("application_date").is_between(first, valid_window[1]))
    window = f"{first}..{valid_window[1]}"
    y = rows[label].cast(pl.Int64).to_numpy()
    if rows.height < MIN_EVALUATION_ROWS or len(np.unique(y)) < 2:
        return ChampionComparison(
            _fixed(
                False,
                "insufficient_evaluation_data",
                f"only {rows.height} labelled rows in {window} were seen by neither model "
                f"(at least {MIN_EVALUATION_ROWS} with both classes are needed); kept as challenger",
                rule,
            ),
            champion.version,
            rows.height,
            window,
        )
    x = feature_matrix(rows, feature_names)
    proba_new, proba_champion = new.pipeline.predict_proba(x)[:, 1], champion.pipeline.predict_proba(x)[:, 1]
    comparisons = paired_bootstrap(
        y, proba_new, proba_champion, new.threshold, champion.threshold, n_resamples=n_resamples, seed=seed
    )
    p_value = auc_difference_pvalue(y, proba_new, proba_champion)
    age = float((as_of - champion.trained_as_of).days)
    return ChampionComparison(
        decide_promotion(comparisons, p_value, age, rule), champion.version, rows.height, window, comparisons
    )
