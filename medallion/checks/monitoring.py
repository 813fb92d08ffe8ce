"""Checks of the retrain decision: each retrain rule as a check, so drift and a failing model turn the lineage red
or yellow on the day they fire, with the decision's own words as the description."""

from datetime import date

import dagster as dg

from medallion.checks.steps import Check, check, one_step_per_asset
from medallion.checks.windows import ERROR, WARN, DailyResults, Days, each_day, per_day
from medallion.names import MlNames

# rule fired by the decision → (check name, severity, what must hold)
RULE_CHECKS = {
    "auc_floor": (
        "live_auc_above_floor",
        ERROR,
        "The champion's live AUC (out-of-sample matured labels) is not below the floor beyond its confidence interval.",
    ),
    "auc_drop": (
        "live_auc_not_dropped",
        WARN,
        "The live AUC has not dropped from the holdout AUC by more than the "
        "allowed margin (judged with the interval of the difference).",
    ),
    "prediction_drift": (
        "no_prediction_drift",
        WARN,
        "The score distribution has not drifted: prediction PSI "
        "within its threshold or not significant against its no-drift distribution at this n.",
    ),
    "feature_drift": ("no_feature_drift", WARN, "Fewer correlated feature groups than the limit have drifted."),
}


def _rule_check(rule: str, names: MlNames, start: date) -> Check:
    name, severity, description = RULE_CHECKS[rule]

    @check(asset=names.retrain_decision, name=name, start=start, description=description)
    def fired(days: Days, warehouse) -> DailyResults:
        rows = per_day(
            warehouse,
            names.sql("retrain_decision"),
            days,
            "any_value(triggered_rules) as triggered_rules, any_value(reason) as reason, "
            "any_value(status) as status, any_value(matured_labels) as matured_labels, "
            "any_value(performance_score) as live_auc, any_value(prediction_psi) as prediction_psi, "
            "any_value(drifting_features) as drifting_features",
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            row = rows.get(day)
            if row is None:
                return dg.AssetCheckResult(passed=False, severity=WARN, description=f"no decision stored for {day}")
            triggered = [r for r in (row["triggered_rules"] or "").split(",") if r]
            return dg.AssetCheckResult(
                passed=rule not in triggered,
                severity=severity,
                description=row["reason"] if rule in triggered else None,
                metadata={
                    "decision": row["status"],
                    "triggered_rules": ", ".join(triggered) or "none",
                    "live_auc": row["live_auc"] if row["live_auc"] is not None else "n/a",
                    "matured_labels": row["matured_labels"],
                    "prediction_psi": row["prediction_psi"] if row["prediction_psi"] is not None else "n/a",
                    "drifting_features": row["drifting_features"] or "none",
                },
            )

        return each_day(days, rows, verdict)

    return fired


def build_monitoring_checks(names: MlNames, start: date) -> list[dg.AssetChecksDefinition]:
    return one_step_per_asset([_rule_check(rule, names, start) for rule in RULE_CHECKS])
