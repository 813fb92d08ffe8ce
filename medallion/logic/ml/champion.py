"""Champion/challenger on the same rows: which rows are fair to both models, the statistics, the decision.

The rows are the new version's holdout days (used neither to fit it nor to choose or tune it) after every day
the champion used for anything (fit, selection, holdout), so neither model has seen them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from medallion.logic.ml.evaluation import (
    METRICS,
    NOT_ADJUSTED,
    PromotionDecision,
    PromotionRule,
    auc_difference_pvalue,
    comparison_power,
    confidence_label,
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
    feature_names: list[str]
    holdout_start: date
    holdout_end: date  # the last day the version used for anything
    trained_as_of: date


@dataclass
class ChampionComparison:
    decision: PromotionDecision
    champion_version: str | None
    n_rows: int
    evaluation_window: str
    comparisons: dict = field(default_factory=dict)
    alpha: float = 0.05

    @property
    def selection_adjustment(self) -> str | None:
        """How the promoted gain was adjusted for its selection, or why it was not; None without a promotion over a
        compared champion."""
        d = self.decision
        if d.selection_adjusted is not None:
            return (
                f"conditional median-unbiased, given DeLong z > {d.selection_adjusted.threshold_z:.3f} "
                "(promoted only when significantly better)"
            )
        if d.promote and d.auc_difference is not None:
            return f"none: promoted as {d.branch}, {NOT_ADJUSTED}"
        return None

    def as_row(self, as_of: date, new_version: str) -> pl.DataFrame:
        d = self.decision
        adjusted = d.selection_adjusted
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
            "measured_on": f"{self.n_rows} rows of application days {self.evaluation_window}, seen by neither model"
            if self.n_rows
            else "no rows",
            "auc_p_value": d.p_value,
            "champion_age_days": d.champion_age_days,
            "auc_difference_se": d.power.difference_se if d.power else None,
            "min_detectable_auc_difference": d.power.min_detectable_difference if d.power else None,
            "power_at_001": d.power.power_at_001 if d.power else None,
            "power_at_002": d.power.power_at_002 if d.power else None,
            "score_correlation": d.power.score_correlation if d.power else None,
            "selection_adjusted_auc_difference": adjusted.estimate if adjusted else None,
            "selection_adjusted_auc_low": adjusted.low if adjusted else None,
            "selection_adjusted_auc_high": adjusted.high if adjusted else None,
            "selection_adjustment": self.selection_adjustment,
        }
        extra = (
            "auc_difference_se",
            "min_detectable_auc_difference",
            "power_at_001",
            "power_at_002",
            "selection_adjusted_auc_difference",
            "selection_adjusted_auc_low",
            "selection_adjusted_auc_high",
        )
        numbers = {
            "auc_p_value": pl.Float64,
            "champion_age_days": pl.Float64,
            "score_correlation": pl.Float64,
            **dict.fromkeys(extra, pl.Float64),
        }
        for name in METRICS:
            c = self.comparisons.get(name)
            for part in ("new", "champion", "difference", "ci_low", "ci_high"):
                row[f"{name}_{part}"] = getattr(c, part) if c else None
                numbers[f"{name}_{part}"] = pl.Float64
        return pl.DataFrame(
            [row], schema_overrides={"champion_version": pl.String, "selection_adjustment": pl.String, **numbers}
        )

    def markdown(self) -> str:
        if not self.comparisons:
            return f"**{self.decision.branch}**: {self.decision.reason}"
        level = confidence_label(1 - self.alpha)
        lines = [f"| metric | new | champion | difference | {level} CI |", "|---|---|---|---|---|"]
        for name, c in self.comparisons.items():
            lines.append(
                f"| {name} | {c.new:.4f} | {c.champion:.4f} | {c.difference:+.4f} | "
                f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] |"
            )
            adjusted = self.decision.selection_adjusted
            if name == "roc_auc" and adjusted is not None:
                lines.append(
                    f"| roc_auc, selection-adjusted | | | {adjusted.estimate:+.4f} | "
                    f"[{adjusted.low:+.4f}, {adjusted.high:+.4f}] |"
                )
        return "\n".join(
            lines
            + [
                "",
                f"**{self.decision.branch}** on {self.n_rows} rows (application days {self.evaluation_window}, "
                f"seen by neither model): {self.decision.reason}",
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
        rule.calibration_margin,
    )


def compare_with_champion(
    training_set: pl.DataFrame,
    new: Contender,
    champion: Contender | None,
    label: str,
    as_of: date,
    rule: PromotionRule,
    n_resamples: int = 1000,
    seed: int = 0,
) -> ChampionComparison:
    """Score the labelled rows that neither model used with both, and decide the aliases.

    A champion of another feature set is still compared when the rows hold every column it reads (by name);
    when they do not, the new version replaces it uncompared and the reason names the missing columns.
    """

    def outcome(decision: PromotionDecision, rows: int = 0, window: str = "", comparisons=None) -> ChampionComparison:
        version = champion.version if champion else None
        return ChampionComparison(decision, version, rows, window, comparisons or {}, rule.alpha)

    if champion is None:
        return outcome(decide_promotion(None, None, None, rule))
    if champion.version == new.version:
        return outcome(
            _fixed(True, "already_champion", f"version {new.version} already holds the champion alias", rule)
        )
    change = None
    if champion.feature_set_version != new.feature_set_version:
        missing = [name for name in champion.feature_names if name not in training_set.columns]
        change = (
            f"the champion (v{champion.version}) was trained on feature set {champion.feature_set_version}, which gold "
            f"no longer produces ({new.feature_set_version})"
        )
        if missing:
            return outcome(
                _fixed(
                    True,
                    "feature_set_changed_not_comparable",
                    f"{change}, and today's rows lack {len(missing)} of its columns ({', '.join(missing[:10])}"
                    f"{', ...' if len(missing) > 10 else ''}), so it can score neither them nor today's features: "
                    "the new version replaces it without a comparison",
                    rule,
                )
            )
        change += f"; it scored these rows from its own {len(champion.feature_names)} columns, found by name"
    first = max(new.holdout_start, champion.holdout_end + timedelta(days=1))
    rows = training_set.filter(pl.col("application_date").is_between(first, new.holdout_end))
    window = f"{first}..{new.holdout_end}"
    y = rows[label].cast(pl.Int64).to_numpy()
    if rows.height < MIN_EVALUATION_ROWS or len(np.unique(y)) < 2:
        return outcome(
            _fixed(
                False,
                "insufficient_evaluation_data",
                f"only {rows.height} labelled rows in {window} were used by neither model "
                f"(at least {MIN_EVALUATION_ROWS} with both classes are needed); kept as challenger",
                rule,
            ),
            rows.height,
            window,
        )
    proba_new = new.pipeline.predict_proba(feature_matrix(rows, new.feature_names))[:, 1]
    proba_champion = champion.pipeline.predict_proba(feature_matrix(rows, champion.feature_names))[:, 1]
    comparisons = paired_bootstrap(
        y,
        proba_new,
        proba_champion,
        new.threshold,
        champion.threshold,
        n_resamples=n_resamples,
        seed=seed,
        alpha=rule.alpha,
    )
    p_value = auc_difference_pvalue(y, proba_new, proba_champion)
    age = float((as_of - champion.trained_as_of).days)
    power = comparison_power(y, proba_new, proba_champion, rule.alpha)
    decision = decide_promotion(comparisons, p_value, age, rule, change, power)
    return outcome(decision, rows.height, window, comparisons)
