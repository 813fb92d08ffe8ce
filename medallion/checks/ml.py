"""Checks of the ML assets: no label from the future, a quality floor for models, complete and sane predictions.
Like the ETL checks, each gives one result per day of the run (a ranged inference run judges each day)."""

from datetime import date

import dagster as dg

from medallion.checks.steps import check, one_step_per_asset
from medallion.checks.windows import (
    ERROR,
    WARN,
    DailyResults,
    Days,
    each_day,
    per_day,
    per_day_counts,
    table,
    where_clause,
)
from medallion.contract import Contract
from medallion.logic.ml.evaluation import quality_floor_verdict
from medallion.logic.ml.scoring import PREDICTION_SCHEMA
from medallion.ml_settings import MlSettings
from medallion.names import (
    LABELS_NOT_FROM_FUTURE,
    MODEL_QUALITY_FLOOR,
    NO_NULLS,
    ONE_PREDICTION_PER_GOLD_ROW,
    PROBABILITIES_IN_UNIT_INTERVAL,
)
from medallion.resources.warehouse import Warehouse


def build_ml_checks(contract: Contract, ml: MlSettings, start: date) -> list[dg.AssetChecksDefinition]:
    names = ml.names
    training_set, model, predictions = names.sql("training_set"), names.sql("model"), names.sql("predictions")

    @check(
        asset=names.training_set,
        name=LABELS_NOT_FROM_FUTURE,
        start=start,
        blocking=True,
        description="No training row of day D uses a label that became known after D (label_date <= partition_date).",
    )
    def labels_not_from_future(days: Days, warehouse: Warehouse) -> DailyResults:
        found = per_day(
            warehouse,
            training_set,
            days,
            "max(label_date) as latest_label, count(*) filter (where label_date > partition_date) as future_labels",
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            row = found.get(day, {"latest_label": None, "future_labels": 0})
            return dg.AssetCheckResult(
                passed=row["future_labels"] == 0,
                severity=ERROR,
                metadata={"future_labels": int(row["future_labels"]), "latest_label": str(row["latest_label"])},
            )

        return each_day(days, found, verdict)

    @check(
        asset=names.model,
        name=MODEL_QUALITY_FLOOR,
        start=start,
        blocking=True,
        description="The registered version's holdout ROC AUC (days not used to fit, choose or tune it) against the "
        f"configured floor (TrainingConfig.auc_floor, default {ml.auc_floor:.2f}: the dataset's `ml.auc_floor`), with "
        "its 95 % DeLong interval: ERROR (blocking) when the whole interval is below the floor, WARN when only the "
        "point estimate is.",
    )
    def model_quality_floor(days: Days, warehouse: Warehouse) -> DailyResults:
        where, params = where_clause(days)
        rows = warehouse.query(
            f"select partition_date, model_version, roc_auc, roc_auc_se, auc_floor, n_holdout from {model}{where} "
            "qualify row_number() over (partition by partition_date order by trained_at desc) = 1",
            params,
        )
        latest = {row["partition_date"]: row for row in rows.iter_rows(named=True)}

        def verdict(day: date) -> dg.AssetCheckResult:
            row = latest.get(day)
            if row is None:
                return dg.AssetCheckResult(passed=False, severity=ERROR, description="no model row for this partition")
            version, auc, floor, n_holdout = row["model_version"], row["roc_auc"], row["auc_floor"], row["n_holdout"]
            judged = quality_floor_verdict(auc, row["roc_auc_se"], floor)
            measured = (
                f"dataset {contract.name}, version {version}: holdout AUC {auc:.4f} (95% CI [{judged.low:.4f}, "
                f"{judged.high:.4f}]) on {n_holdout} rows"
            )
            return dg.AssetCheckResult(
                passed=judged.passed,
                severity=ERROR if judged.blocking else WARN,
                description=f"{measured} {judged.note} (TrainingConfig.auc_floor)" if judged.note else None,
                metadata={
                    "model_version": version,
                    "holdout_auc": float(auc),
                    "holdout_auc_ci_low": judged.low,
                    "holdout_auc_ci_high": judged.high,
                    "holdout_rows": int(n_holdout),
                    "auc_floor": float(floor),
                },
            )

        return each_day(days, latest, verdict)

    @check(
        asset=names.predictions,
        name=ONE_PREDICTION_PER_GOLD_ROW,
        start=start,
        blocking=True,
        description="Each day has exactly one prediction per gold feature row, keyed the same.",
    )
    def one_prediction_per_gold_row(days: Days, warehouse: Warehouse) -> DailyResults:
        gold = per_day_counts(warehouse, f"gold.{contract.features_table}", days)
        scored = per_day(
            warehouse,
            predictions,
            days,
            f'count(*) as n, count(*) - count(distinct "{contract.key}") as duplicate_keys',
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            row = scored.get(day, {"n": 0, "duplicate_keys": 0})
            expected, made, dupes = gold.get(day, 0), row["n"], row["duplicate_keys"]
            return dg.AssetCheckResult(
                passed=expected == made and dupes == 0,
                severity=ERROR,
                description=None
                if expected == made and dupes == 0
                else f"{day}: {made} predictions for {expected} gold rows, {dupes} duplicate keys",
                metadata={"gold_rows": expected, "predictions": made, "duplicate_keys": int(dupes)},
            )

        return each_day(days, set(gold) | set(scored), verdict)

    @check(
        asset=names.predictions,
        name=PROBABILITIES_IN_UNIT_INTERVAL,
        start=start,
        description="Every probability lies in [0, 1].",
    )
    def probabilities_in_unit_interval(days: Days, warehouse: Warehouse) -> DailyResults:
        found = per_day(
            warehouse,
            predictions,
            days,
            "count(*) filter (where probability < 0 or probability > 1 or isnan(probability)) as out_of_range",
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            bad = int(found.get(day, {"out_of_range": 0})["out_of_range"])
            return dg.AssetCheckResult(passed=bad == 0, severity=ERROR, metadata={"out_of_range": bad})

        return each_day(days, found, verdict)

    @check(
        asset=names.predictions, name=NO_NULLS, start=start, blocking=True, description="No prediction column is null."
    )
    def no_nulls(days: Days, warehouse: Warehouse) -> DailyResults:
        columns = [c for c in PREDICTION_SCHEMA if c != "partition_date"] + [contract.key]
        found = per_day(warehouse, predictions, days, ", ".join(f'count(*) - count("{c}") as "{c}"' for c in columns))

        def verdict(day: date) -> dg.AssetCheckResult:
            nulls = [{"column": c, "nulls": n} for c, n in found.get(day, {}).items() if n]
            return dg.AssetCheckResult(
                passed=not nulls,
                severity=ERROR,
                metadata={"null_counts": table(nulls, {"column": "string", "nulls": "int"})},
            )

        return each_day(days, found, verdict)

    return one_step_per_asset(
        [
            labels_not_from_future,
            model_quality_floor,
            one_prediction_per_gold_row,
            probabilities_in_unit_interval,
            no_nulls,
        ]
    )
