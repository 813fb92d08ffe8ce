"""Serving loads: each day's predictions and a per-day summary, replaced in every target applications read."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime

import dagster as dg

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
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import days_in
from medallion.utils.table_metadata import daily_counts

log = logging.getLogger("medallion.serving")


def build_serving_assets(
    contract: Contract, start: date, targets: tuple[str, ...], names: MlNames
) -> dg.AssetsDefinition:
    served, summary = predictions_table(contract.key, names.serving_schema), daily_summary_table(names.serving_schema)
    kinds = set(targets)
    predictions_key, served_key, summary_key = names.predictions, names.served_predictions, names.served_daily_summary
    predictions_source = ".".join(predictions_key.path)

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
        **op_policy(SERVING, start),
    )
    def serving_loads(context: dg.AssetExecutionContext, warehouse: Warehouse, serving: ServingTargets):
        days = days_in(*context.partition_time_window)
        loaded_at = datetime.now(UTC)
        outputs = {served_key: (served, SERVED_ROWS_MATCH_PREDICTIONS), summary_key: (summary, ONE_SUMMARY_ROW_PER_DAY)}
        loads: dict[dg.AssetKey, list[Load]] = {key: [] for key in outputs}
        expected: dict[dg.AssetKey, dict[date, int]] = {key: {} for key in outputs}
        with warehouse.session() as session:
            chunks = warehouse.slices(session.rows_by_day(days, predictions_source))
        for chunk in chunks:  # a slice's days are replaced in one transaction per target
            with warehouse.session() as session:
                predictions = session.read_days(predictions_source, chunk)
            frames = {
                served_key: served_predictions(predictions, loaded_at),
                summary_key: daily_summary(predictions, chunk, loaded_at),
            }
            for key, (table, _) in outputs.items():
                frame = frames[key]
                with failing_as(key, chunk):
                    loads[key] += serving.replace(table, frame, chunk[0], chunk[-1])
                daily_counts(context, frame, asset_key=key, days=chunk)
                expected[key] |= rows_per_day(frame, chunk)
        for key, (table, check) in outputs.items():
            with failing_as(key, days):
                served_counts = serving.rows_by_day(table, days[0], days[-1])
            merged = merge_loads(loads[key])
            for load in merged:
                log.info("%s: %d rows to %s in %.2f s", key.to_user_string(), load.rows, load.location, load.seconds)
            yield dg.MaterializeResult(asset_key=key, metadata=load_metadata(sum(expected[key].values()), merged))
            yield read_back_check(key, check, expected[key], served_counts)

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


@contextmanager
def failing_as(key: dg.AssetKey, days: list[date]) -> Iterator[None]:
    """A target's error fails the step naming the asset and the days."""
    try:
        yield
    except ServingError as error:
        raise dg.Failure(description=f"{key.to_user_string()} for {days[0]}..{days[-1]}: {error}") from error


def merge_loads(loads: list[Load]) -> list[Load]:
    """A ranged run's loads per target (one per slice) as one per target: rows and seconds added up."""
    merged: dict[str, Load] = {}
    for load in loads:
        seen = merged.get(load.target)
        merged[load.target] = (
            load if seen is None else replace(seen, rows=seen.rows + load.rows, seconds=seen.seconds + load.seconds)
        )
    return list(merged.values())


def load_metadata(rows: int, loads: list[Load]) -> dict:
    metadata: dict = {"run_rows": rows, "targets": ", ".join(load.target for load in loads)}
    for load in loads:
        metadata[f"{load.target}_rows"] = load.rows
        metadata[f"{load.target}_seconds"] = round(load.seconds, 3)
        metadata[f"{load.target}_location"] = load.location
    return metadata
