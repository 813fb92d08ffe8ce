"""Serving loads: each day's predictions and a per-day summary, replaced in every target applications read."""

import logging
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.logic.serving.tables import (
    daily_summary,
    daily_summary_table,
    predictions_table,
    rows_per_day,
    served_mismatches,
    served_predictions,
)
from medallion.names import (
    ONE_SUMMARY_ROW_PER_DAY,
    SERVED_ROWS_MATCH_PREDICTIONS,
    SERVING,
    SERVING_LOADS,
    MlNames,
)
from medallion.policies import op_policy
from medallion.resources.serving import Load, ServingError, ServingTargets
from medallion.utils.table_metadata import daily_counts

log = logging.getLogger("medallion.serving")


def build_serving_assets(
    contract: Contract, start: date, targets: tuple[str, ...], names: MlNames
) -> dg.AssetsDefinition:
    served, summary = predictions_table(contract.key, names.serving_schema), daily_summary_table(names.serving_schema)
    kinds = set(targets)
    predictions_key, served_key, summary_key = names.predictions, names.served_predictions, names.served_daily_summary

    @dg.multi_asset(
        name=names.named(SERVING_LOADS),
        specs=[
            dg.AssetSpec(
                served_key,
                deps=[predictions_key],
                description=f"The day's predictions where applications read them ({', '.join(targets)}), keyed by "
                f"({contract.key}, partition_date); each run's days are replaced in one transaction per target.",
                kinds=kinds,
            ),
            dg.AssetSpec(
                summary_key,
                deps=[predictions_key],
                description="Per day: rows scored, mean probability, predicted positive rate and the model version "
                "(quiet days included with rows = 0).",
                kinds=kinds,
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                SERVED_ROWS_MATCH_PREDICTIONS,
                asset=served_key,
                description="Read back from every target: each day holds as many rows as "
                f"{predictions_key.to_user_string()} scored.",
            ),
            dg.AssetCheckSpec(
                ONE_SUMMARY_ROW_PER_DAY,
                asset=summary_key,
                description="Read back from every target: one summary row for each day of the run.",
            ),
        ],
        ins={"predictions": dg.AssetIn(key=predictions_key)},
        **op_policy(SERVING, start),
    )
    def serving_loads(context: dg.AssetExecutionContext, predictions: pl.DataFrame, serving: ServingTargets):
        days = [date.fromisoformat(key) for key in context.partition_keys]
        first, last = days[0], days[-1]
        loaded_at = datetime.now(UTC)
        outputs = {
            served_key: (served, served_predictions(predictions, loaded_at), SERVED_ROWS_MATCH_PREDICTIONS),
            summary_key: (summary, daily_summary(predictions, days, loaded_at), ONE_SUMMARY_ROW_PER_DAY),
        }
        for key, (table, frame, check) in outputs.items():
            try:
                loads = serving.replace(table, frame, first, last)
                served_counts = serving.rows_by_day(table, first, last)
            except ServingError as error:
                raise dg.Failure(description=f"{key.to_user_string()} for {first}..{last}: {error}") from error
            for load in loads:
                log.info("%s: %d rows to %s in %.2f s", key.to_user_string(), load.rows, load.location, load.seconds)
            daily_counts(context, frame, asset_key=key)
            yield dg.MaterializeResult(asset_key=key, metadata=load_metadata(frame, loads))
            yield read_back_check(key, check, rows_per_day(frame, days), served_counts)

    return serving_loads


def read_back_check(
    key: dg.AssetKey, check: str, expected: dict[date, int], served: dict[str, dict[date, int]]
) -> dg.AssetCheckResult:
    mismatches = served_mismatches(expected, served)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=check,
        passed=not mismatches,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"days": len(expected), "rows_expected": sum(expected.values()), **mismatches},
    )


def load_metadata(frame: pl.DataFrame, loads: list[Load]) -> dict:
    metadata: dict = {"run_rows": frame.height, "targets": ", ".join(load.target for load in loads)}
    for load in loads:
        metadata[f"{load.target}_rows"] = load.rows
        metadata[f"{load.target}_seconds"] = round(load.seconds, 3)
        metadata[f"{load.target}_location"] = load.location
    return metadata
