"""The daily retrain decision from live performance and drift, each rule judged against its sampling noise.

Performance rules read the live AUC with its DeLong standard error (out-of-sample matured labels only) and the
version's holdout AUC with its own; drift rules read each PSI with its no-drift p-value at the window's size
(drift.psi_p_value); correlated features count once, as their group.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RetrainRules:
    auc_floor: float = 0.70
    max_auc_drop: float = 0.05
    prediction_psi_threshold: float = 0.05  # the project's own drift moves weekly prediction PSI to 0.07-0.13
    feature_psi_threshold: float = 0.25
    max_drifting_features: int = 3
    min_matured_labels: int = 200
    min_predictions: int = 200
    # The chance that a model which did not change is retrained on noise within a year of decisions: what a user
    # lives with is every rule, every week, against one holdout AUC, not one test.
    yearly_false_alarm: float = 0.10
    decisions_per_year: int = 52  # the weekly schedule; set it to how often the retrain sensor reads a decision

    def __post_init__(self) -> None:
        if not 0 < self.yearly_false_alarm < 1:
            raise ValueError(f"yearly_false_alarm must be between 0 and 1 (exclusive), got {self.yearly_false_alarm}")
        if self.decisions_per_year < 1:
            raise ValueError(f"decisions_per_year must be 1 or more, got {self.decisions_per_year}")

    @property
    def alpha(self) -> float:
        """A decision's share of the yearly budget (Bonferroni: it holds although the weeks share one holdout AUC,
        which makes false alarms cluster in the years that holdout was lucky)."""
        return self.yearly_false_alarm / self.decisions_per_year

    @property
    def rule_alpha(self) -> float:
        """Each of the four rules' share of a decision's: the AUC intervals are two-sided at 1 - 2 * rule_alpha (each
        AUC rule uses one side) and a PSI counts only when no-drift samples of its size reach it less often."""
        return self.alpha / 4


@dataclass(frozen=True)
class RetrainDecision:
    decision_date: dt.date | str
    performance_score: float | None
    drift_score: float | None
    retrain: bool
    status: str
    reason: str
    model_version: str | None
    triggered_rules: list[str] = field(default_factory=list)
    drifting_features: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        date = self.decision_date
        return {
            "decision_date": date.isoformat() if isinstance(date, dt.date) else str(date),
            "performance_score": self.performance_score,
            "drift_score": self.drift_score,
            "retrain": self.retrain,
            "status": self.status,
            "reason": self.reason,
            "model_version": self.model_version,
            "triggered_rules": list(self.triggered_rules),
            "drifting_features": list(self.drifting_features),
        }


def _known(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@functools.cache
def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.isf(alpha / 2))


def decide_retrain(
    *,
    decision_date: dt.date | str,
    model_version: str | int | None,
    holdout_auc: float | None,
    live_auc: float | None,
    matured_labels: int,
    n_predictions: int,
    prediction_psi: float | None,
    feature_psi: Mapping[str, float],
    holdout_auc_se: float | None = None,
    live_auc_se: float | None = None,
    in_sample_excluded: int = 0,
    prediction_psi_p_value: float | None = None,
    feature_psi_p_values: Mapping[str, float] | None = None,
    feature_groups: Mapping[str, str] | None = None,
    performance_version: str | None = None,
    champion_labels: int | None = None,
    deployed_auc: float | None = None,
    deployed_auc_se: float | None = None,
    deployed_labels: int = 0,
    served_versions: Sequence[str] = (),
    window_notes: Sequence[str] = (),
    rules: RetrainRules = RetrainRules(),
) -> RetrainDecision:
    """Retrain when live AUC is significantly below the floor or significantly dropped (by more than max_auc_drop)
    from the holdout AUC, or when predictions or enough groups of features drifted beyond both the PSI threshold and
    what chance gives at that sample size.

    Performance is that of `performance_version` (default: the champion), the version whose served predictions the
    matured labels resolve: after a promotion the champion has none for a label delay, and its predecessor's say how
    the deployed model did; the reason names whose labels were judged, and every served version's pooled AUC.

    A missing standard error or p-value leaves the point value alone to decide. Performance rules need at least
    `min_matured_labels` matured out-of-sample labels; drift rules alone can trigger a retrain without them. Too few
    predictions make every measure unreliable, so the status is insufficient_data; so is having too few labels while
    no drift rule fires, since a model cannot be called healthy on drift alone. `window_notes` (windows grown past
    their configured days to reach the minimums) end the reason.
    """
    live_auc, holdout_auc, prediction_psi = _known(live_auc), _known(holdout_auc), _known(prediction_psi)
    live_se, holdout_se = _known(live_auc_se) or 0.0, _known(holdout_auc_se) or 0.0
    feature_psi = {name: float(value) for name, value in feature_psi.items() if not math.isnan(value)}
    p_values = {name: p for name, p in (feature_psi_p_values or {}).items() if _known(p) is not None}
    groups = {name: (feature_groups or {}).get(name) or name for name in feature_psi}
    top_feature = max(feature_psi, key=lambda name: (feature_psi[name], name), default=None)
    drift_candidates = [
        v for v in (prediction_psi, feature_psi.get(top_feature) if top_feature else None) if v is not None
    ]
    drift_score = max(drift_candidates) if drift_candidates else None
    drifting = sorted(
        (
            name
            for name, value in feature_psi.items()
            if value > rules.feature_psi_threshold and p_values.get(name, 0.0) < rules.rule_alpha
        ),
        key=lambda name: (-feature_psi[name], name),
    )
    drifting_groups = list(dict.fromkeys(groups[name] for name in drifting))
    labels_enough = live_auc is not None and matured_labels >= rules.min_matured_labels
    performance_score = live_auc if labels_enough else None
    version = None if model_version is None else str(model_version)
    z, level = _z(2 * rules.rule_alpha), f"{100 * (1 - 2 * rules.rule_alpha):.4g}%"
    judged = version if performance_version is None else str(performance_version)
    of_whom = (
        f" of v{judged}, which served them (champion v{version} has {champion_labels or 0} yet)"
        if judged != version and judged is not None
        else ""
    )
    rows = f"{matured_labels} out-of-sample matured labels{of_whom}" + (
        f", {in_sample_excluded} in-sample left out" if in_sample_excluded else ""
    )
    deployed_auc, deployed_se = _known(deployed_auc), _known(deployed_auc_se) or 0.0
    deployed_note = (
        f"deployed overall (v{', v'.join(served_versions)} pooled): AUC {deployed_auc:.4f} ± {z * deployed_se:.4f} on "
        f"{deployed_labels} matured labels"
        if deployed_auc is not None and len(served_versions) > 1
        else None
    )

    def decision(retrain: bool, status: str, reason: str, fired: list[str]) -> RetrainDecision:
        return RetrainDecision(
            decision_date=decision_date,
            performance_score=performance_score,
            drift_score=drift_score,
            retrain=retrain,
            status=status,
            reason="; ".join([reason, *window_notes]),
            model_version=version,
            triggered_rules=fired,
            drifting_features=drifting,
        )

    if n_predictions < rules.min_predictions:
        return decision(
            False,
            "insufficient_data",
            f"only {n_predictions} predictions (< {rules.min_predictions}); drift and performance are not reliable yet",
            [],
        )

    fired: list[str] = []
    reasons: list[str] = []
    checks: list[str] = []
    if labels_enough:
        low, high = live_auc - z * live_se, live_auc + z * live_se
        text = f"live AUC {live_auc:.4f} ({level} CI [{low:.4f}, {high:.4f}], {rows})"
        if high < rules.auc_floor:
            fired.append("auc_floor")
            reasons.append(f"{text} < floor {rules.auc_floor:.2f}")
        else:
            checks.append(f"{text} not below floor {rules.auc_floor:.2f}")
        if holdout_auc is not None:
            drop = round(holdout_auc - live_auc, 12)  # 0.80 - 0.75 must not exceed 0.05
            margin = z * math.hypot(live_se, holdout_se)
            text = (
                f"AUC dropped {drop:.4f} ({level} CI [{drop - margin:.4f}, {drop + margin:.4f}]) from holdout "
                f"{holdout_auc:.4f} to live {live_auc:.4f}"
            )
            if drop > rules.max_auc_drop and drop - margin > 0:
                fired.append("auc_drop")
                reasons.append(f"{text} (> {rules.max_auc_drop:.2f}, CI above 0)")
            else:
                checks.append(f"{text} (retrain when > {rules.max_auc_drop:.2f} with the CI above 0)")
    if prediction_psi is not None:
        p_text = "" if prediction_psi_p_value is None else f", no-drift p = {prediction_psi_p_value:.2g}"
        significant = prediction_psi_p_value is None or prediction_psi_p_value < rules.rule_alpha
        if prediction_psi > rules.prediction_psi_threshold and significant:
            fired.append("prediction_drift")
            reasons.append(
                f"prediction PSI {prediction_psi:.3f} > {rules.prediction_psi_threshold:.2f}{p_text} "
                f"(< {rules.rule_alpha:.2g})"
            )
        else:
            when = f"retrain when > {rules.prediction_psi_threshold:.2f} with p < {rules.rule_alpha:.2g}"
            checks.append(f"prediction PSI {prediction_psi:.3f}{p_text} ({when})")
    drift_listing = ", ".join(
        f"{group} ({', '.join(f'{n} {feature_psi[n]:.3f}' for n in drifting if groups[n] == group)})"
        for group in drifting_groups
    )
    counted = (
        f"{len(drifting_groups)} feature groups with PSI > {rules.feature_psi_threshold:.2f} and no-drift "
        f"p < {rules.rule_alpha:.2g}"
    )
    if len(drifting_groups) >= rules.max_drifting_features:
        fired.append("feature_drift")
        reasons.append(f"{counted} (>= {rules.max_drifting_features}): {drift_listing}")
    elif feature_psi:
        checks.append(
            f"{counted} (retrain at {rules.max_drifting_features})" + (f": {drift_listing}" if drifting else "")
        )

    if deployed_note:
        checks.append(deployed_note)
    if fired:
        return decision(True, "retrain", "; ".join([*reasons, *([deployed_note] if deployed_note else [])]), fired)
    if not labels_enough:
        label_note = (
            f"{rows} (< {rules.min_matured_labels})" if matured_labels < rules.min_matured_labels else "no live AUC"
        )
        drift_note = "; ".join(checks) if checks else "no drift measured"
        return decision(
            False,
            "insufficient_data",
            f"{label_note}, so performance is unknown, and no drift rule fired ({drift_note})",
            [],
        )
    return decision(False, "healthy", "no rule fired: " + "; ".join(checks), [])
