"""Gold: the feature store (one engineer_features for every consumer) and the point-in-time label store."""

import logging
import time
from datetime import date, timedelta

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.contract.catalog import features_schema
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.etl.labels import LABEL_MATCH_WINDOW_DAYS, LabelResult, build_labels
from medallion.names import GOLD, SILVER, table_key, table_name
from medallion.policies import op_policy
from medallion.resources.table_writes import DaysWrite
from medallion.resources.warehouse import BUILT_FROM, Warehouse, WarehouseSession
from medallion.utils.dates import days_in
from medallion.utils.table_metadata import RangeTotals, daily_counts

log = logging.getLogger("medallion.etl")


def features_built_from(contract: Contract) -> list[str]:
    """The tables gold features are built from, day for day: a reader refuses a features day older than these."""
    return [table_name(SILVER, contract.entity.name)]


def labels_built_from(contract: Contract) -> list[str]:
    return [table_name(SILVER, contract.outcome.name)]


def build_gold_assets(contract: Contract, feature_set: FeatureSet, start: date) -> list[dg.AssetsDefinition]:
    declared_features = features_schema(feature_set.specs, contract.key)

    features_table, labels_table = table_name(GOLD, contract.features_table), table_name(GOLD, contract.labels_table)
    applications_table = table_name(SILVER, contract.entity.name)

    @dg.asset(
        key=table_key(GOLD, contract.features_table),
        deps=[table_key(SILVER, contract.entity.name)],
        description=f"Model features of each {contract.entity.name} row, feature set {feature_set.version}.",
        metadata={
            "feature_set_version": feature_set.version,
            "dagster/column_schema": declared_features,
            BUILT_FROM: features_built_from(contract),
        },
        **op_policy(GOLD, start),
    )
    def features(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        started, totals = time.perf_counter(), RangeTotals()
        with warehouse.session() as session:
            run_days = days_in(*context.partition_time_window)
            for days in warehouse.slices(session.rows_by_day(run_days, applications_table)):
                applications = session.read_days(applications_table, days)
                frame = feature_set.engineer(applications).with_columns(
                    pl.lit(feature_set.version).alias("feature_set_version")
                )
                session.replace_days({features_table: frame}, DaysWrite.of_days(days, context.run_id))
                daily_counts(context, frame, applications, days=days)
                totals.add(frame, rows_in=applications.height)
        log.info("gold features: %d rows, feature set %s", totals.rows_out, feature_set.version)
        return dg.MaterializeResult(
            metadata=totals.metadata(
                started,
                declared=declared_features,
                feature_set_version=feature_set.version,
                features=len(feature_set.names),
            ),
        )

    @dg.asset(
        key=table_key(GOLD, contract.labels_table),
        deps=[
            table_key(SILVER, contract.outcome.name),
            dg.AssetDep(
                table_key(SILVER, contract.entity.name),
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-LABEL_MATCH_WINDOW_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
                ),
            ),
        ],
        description=(
            f"One row per {contract.entity.name} row whose outcome is known, partitioned by label_date, the day the "
            f"outcome landed; matched by key and application day, up to {LABEL_MATCH_WINDOW_DAYS} days back."
        ),
        metadata={BUILT_FROM: labels_built_from(contract)},
        **op_policy(GOLD, start),
    )
    def labels(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        started, totals, positives = time.perf_counter(), RangeTotals(), 0
        with warehouse.session() as session:
            run_days = days_in(*context.partition_time_window)
            for days in warehouse.slices(session.rows_by_day(run_days, table_name(SILVER, contract.outcome.name))):
                result, outcomes = _labels_slice(session, contract, days)
                session.replace_days({labels_table: result.labels}, DaysWrite.of_days(days, context.run_id))
                daily_counts(context, result.labels, outcomes, result.unmatched, days=days)
                totals.add(result.labels, rows_in=outcomes.height, rows_rejected=result.unmatched.height)
                totals.reasons.update(dict(result.unmatched.group_by("reason").len().iter_rows()))
                positives += int(result.labels[contract.label].sum() or 0)
        reasons = dict(sorted(totals.reasons.items()))
        if totals.rows_rejected:
            log.warning(
                "%d outcome(s) resolve no application in the %d days before they landed (%s)",
                totals.rows_rejected,
                LABEL_MATCH_WINDOW_DAYS,
                ", ".join(f"{reason}: {n}" for reason, n in reasons.items()),
            )
        return dg.MaterializeResult(
            metadata=totals.metadata(
                started,
                unmatched_outcomes=totals.rows_rejected,
                unmatched_reasons=dg.MetadataValue.json(reasons),
                label_maturity_days=contract.label_maturity_days,
                positive_rate=positives / totals.rows_out if totals.rows_out else 0.0,
            ),
        )

    return [features, labels]


def _labels_slice(session: WarehouseSession, contract: Contract, days: list[date]) -> tuple[LabelResult, pl.DataFrame]:
    """The labels of outcomes landed on `days`, matched to applications of the key up to the match window back: only
    the applications' keys and days are read, so a slice's memory is its outcomes and a window of keys."""
    outcomes = session.read_days(table_name(SILVER, contract.outcome.name), days)
    window = [min(days) - timedelta(days=LABEL_MATCH_WINDOW_DAYS), max(days)]
    applications = session.read_days(
        table_name(SILVER, contract.entity.name), window, columns=f'"{contract.key}", partition_date'
    )
    result = build_labels(
        outcomes,
        applications,
        contract.key,
        contract.label,
        contract.label_time,
        contract.application_time,
        contract.label_maturity_days,
        contract.label_positive,
        window_days=LABEL_MATCH_WINDOW_DAYS,
    )
    return result, outcomes
