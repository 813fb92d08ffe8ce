"""The daily retrain decision from live performance and drift."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RetrainRules:
    auc_floor: float = 0.70
    max_auc_drop: float = 0.05
    prediction_psi_threshold: float = 0.25
    feature_psi_threshold: float = 0.25
    max_drifting_features: int = 3
    min_matured_labels: int = 200
    min_predictions: int = 200


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


def decide_retrain(
    *,
    decision_date: dt.date | str,
    model_version: str | int | None,
    validation_auc: float | None,
    live_auc: float | None,
    matured_labels: int,
    n_predictions: int,
    prediction_psi: float | None,
    feature_psi: Mapping[str, float],
    rules: RetrainRules = RetrainRules(),
) -> RetrainDecision:
    """Retrain when live AUC is below the floor or dropped from validation, or when predictions or
    enough features drifted.

    Performance rules need at least `min_matured_labels` matured labels; drift rules alone can
    trigger a retrain without them. Too few predictions make every measure unreliable, so the
    status is insufficient_data; so is having too few labels while no drift rule fires, since a
    model cannot be called healthy on drift alone.
    """
    live_auc, validation_auc, prediction_psi = _known(live_auc), _known(validation_auc), _known(prediction_psi)
    feature_psi = {name: float(value) for name, value in feature_psi.items() if not math.isnan(value)}
    top_feature = max(feature_psi, key=lambda name: (feature_psi[name], name), default=None)
    drift_candidates = [
        v for v in (prediction_psi, feature_psi.get(top_feature) if top_feature else None) if v is not None
    ]
    drift_score = max(drift_candidates) if drift_candidates else None
    drifting = sorted(
        (name for name, value in feature_psi.items() if value > rules.feature_psi_threshold),
        key=lambda name: (-feature_psi[name], name),
    )
    labels_enough = live_auc is not None and matured_labels >= rules.min_matured_labels
    performance_score = live_auc if labels_enough else None
    version = None if model_version is None else str(model_version)

    def decision(retrain: bool, status: str, reason: str, fired: list[str]) -> RetrainDecision:
        return RetrainDecision(
            decision_date=decision_date,
            performance_score=performance_score,
            drift_score=drift_score,
            retrain=retrain,
            status=status,
            reason=reason,
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
        if live_auc < rules.auc_floor:
            fired.append("auc_floor")
            reasons.append(f"live AUC {live_auc:.4f} < floor {rules.auc_floor:.2f} ({matured_labels} matured labels)")
        else:
            checks.append(f"live AUC {live_auc:.4f} >= floor {rules.auc_floor:.2f}")
        if validation_auc is not None:
            drop = round(validation_auc - live_auc, 12)  # 0.80 - 0.75 must not exceed 0.05
            text = f"AUC dropped {drop:.4f} from validation {validation_auc:.4f} to live {live_auc:.4f}"
            if drop > rules.max_auc_drop:
                fired.append("auc_drop")
                reasons.append(f"{text} (> {rules.max_auc_drop:.2f})")
            else:
                checks.append(f"{text} (<= {rules.max_auc_drop:.2f})")
    if prediction_psi is not None:
        if prediction_psi > rules.prediction_psi_threshold:
            fired.append("prediction_drift")
            reasons.append(f"prediction PSI {prediction_psi:.3f} > {rules.prediction_psi_threshold:.2f}")
        else:
            checks.append(f"prediction PSI {prediction_psi:.3f} <= {rules.prediction_psi_threshold:.2f}")
    drift_listing = ", ".join(f"{name} {feature_psi[name]:.3f}" for name in drifting)
    if len(drifting) >= rules.max_drifting_features:
        fired.append("feature_drift")
        reasons.append(
            f"{len(drifting)} features with PSI > {rules.feature_psi_threshold:.2f} "
            f"(>= {rules.max_drifting_features}): {drift_listing}"
        )
    elif feature_psi:
        checks.append(
            f"{len(drifting)} features with PSI > {rules.feature_psi_threshold:.2f} "
            f"(retrain at {rules.max_drifting_features})" + (f": {drift_listing}" if drifting else "")
        )

    if fired:
        return decision(True, "retrain", "; ".join(reasons), fired)
    if not labels_enough:
        label_note = (
            f"{matured_labels} matured labels (< {rules.min_matured_labels})"
            if matured_labels < rules.min_matured_labels
            else "no live AUC"
        )
        drift_note = "; ".join(checks) if checks else "no drift measured"
        return decision(
            False,
            "insufficient_data",
            f"{label_note}, so performance is unknown, and no drift rule fired ({drift_note})",
            [],
        )
    return decision(False, "healthy", "no rule fired: " + "; ".join(checks), [])
