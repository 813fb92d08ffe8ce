"""Checks of the ML assets: no label from the future, a quality floor for models, complete and sane predictions."""

import dagster as dg

from medallion.checks.windows import ERROR, SHOWN, per_day_counts, run_days, where_clause
from medallion.contract import Contract
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


def build_ml_checks(contract: Contract, ml: MlSettings) -> list[dg.AssetChecksDefinition]:
    names = ml.names
    training_set, model, predictions = names.sql("training_set"), names.sql("model"), names.sql("predictions")

    @dg.asset_check(
        asset=names.training_set,
        name=LABELS_NOT_FROM_FUTURE,
        blocking=True,
        description="No training row of day D uses a label that became known after D (label_date <= partition_date).",
    )
    def labels_not_from_future(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(run_days(context))
        worst = warehouse.query(
            "select partition_date, max(label_date) as latest_label, "
            "count(*) filter (where label_date > partition_date) as future_labels "
            f"from {training_set}{where} group by all order by 1",
            params,
        )
        future = worst.filter(worst["future_labels"] > 0)
        return dg.AssetCheckResult(
            passed=future.is_empty(),
            severity=ERROR,
            metadata={
                "future_labels": int(future["future_labels"].sum()) if future.height else 0,
                "latest_label_by_day": {str(day): str(latest) for day, latest, _ in worst.head(SHOWN).iter_rows()},
            },
        )

    @dg.asset_check(
        asset=names.model,
        name=MODEL_QUALITY_FLOOR,
        blocking=True,
        description="The registered version's holdout ROC AUC (days not used to fit, choose or tune it) is at least "
        f"the configured floor (TrainingConfig.auc_floor, default {ml.auc_floor:.2f}: the dataset's `ml.auc_floor`).",
    )
    def model_quality_floor(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(run_days(context))
        rows = warehouse.query(
            f"select partition_date, model_version, roc_auc, auc_floor, n_holdout from {model}{where} "
            "order by trained_at desc limit 1",
            params,
        )
        if rows.is_empty():
            return dg.AssetCheckResult(passed=False, severity=ERROR, description="no model row for this partition")
        _, version, auc, floor, n_holdout = rows.row(0)
        return dg.AssetCheckResult(
            passed=auc >= floor,
            severity=ERROR,
            description=None
            if auc >= floor
            else f"dataset {contract.name}, version {version}: holdout AUC {auc:.4f} on {n_holdout} rows is below "
            f"the floor {floor:.2f} (TrainingConfig.auc_floor)",
            metadata={
                "model_version": version,
                "holdout_auc": float(auc),
                "holdout_rows": int(n_holdout),
                "auc_floor": float(floor),
            },
        )

    @dg.asset_check(
        asset=names.predictions,
        name=ONE_PREDICTION_PER_GOLD_ROW,
        blocking=True,
        description="Each day has exactly one prediction per gold feature row, keyed the same.",
    )
    def one_prediction_per_gold_row(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        where, params = where_clause(run_days(context))
        gold = per_day_counts(warehouse, f"gold.{contract.features_table}", run_days(context))
        scored = per_day_counts(warehouse, predictions, run_days(context))
        dupes = warehouse.query(
            f'select count(*) - count(distinct (partition_date, "{contract.key}")) as n from {predictions}{where}',
            params,
        )["n"][0]
        mismatched = {
            str(d): {"gold": gold.get(d, 0), "predictions": scored.get(d, 0)}
            for d in sorted(set(gold) | set(scored))
            if gold.get(d, 0) != scored.get(d, 0)
        }
        return dg.AssetCheckResult(
            passed=not mismatched and dupes == 0,
            severity=ERROR,
            metadata={
                "gold_rows": sum(gold.values()),
                "predictions": sum(scored.values()),
                "duplicate_keys": int(dupes),
                "days_mismatched": dict(list(mismatched.items())[:SHOWN]),
            },
        )

    @dg.asset_check(
        asset=names.predictions,
        name=PROBABILITIES_IN_UNIT_INTERVAL,
        description="Every probability lies in [0, 1].",
    )
    def probabilities_in_unit_interval(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        where, params = where_clause(run_days(context), "(probability < 0 or probability > 1 or isnan(probability))")
        bad = warehouse.query(f"select count(*) as n from {predictions}{where}", params)["n"][0]
        return dg.AssetCheckResult(passed=bad == 0, severity=ERROR, metadata={"out_of_range": int(bad)})

    @dg.asset_check(
        asset=names.predictions,
        name=NO_NULLS,
        blocking=True,
        description="No prediction column is null.",
    )
    def no_nulls(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(run_days(context))
        columns = [c for c in PREDICTION_SCHEMA if c != "partition_date"] + [contract.key]
        selects = ", ".join(f'count(*) - count("{c}") as "{c}"' for c in columns)
        counts = warehouse.query(f"select {selects} from {predictions}{where}", params).row(0, named=True)
        nulls = {c: n for c, n in counts.items() if n}
        return dg.AssetCheckResult(passed=not nulls, severity=ERROR, metadata={"null_counts": nulls})

    return [
        labels_not_from_future,
        model_quality_floor,
        one_prediction_per_gold_row,
        probabilities_in_unit_interval,
        no_nulls,
    ]
