"""Gold: the feature store (one engineer_features for every consumer) and the point-in-time label store."""

import logging
import time
from datetime import timedelta

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.etl.labels import build_labels
from medallion.partitions import LABEL_MATCH_WINDOW_DAYS, daily_partitions, partition_metadata, single_run_backfill
from medallion.utils.table_metadata import table_metadata

log = logging.getLogger("medallion.etl")

# Gold is built daily for the day before; a day and a half without a new materialization means the chain stalled.
GOLD_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36), warn_window=timedelta(hours=26))


def build_gold_assets(contract: Contract, feature_set: FeatureSet) -> list[dg.AssetsDefinition]:
    common = dict(
        group_name="gold",
        partitions_def=daily_partitions,
        backfill_policy=single_run_backfill,
        kinds={"duckdb", "polars"},
        tags={"layer": "gold"},
        pool="warehouse",
        freshness_policy=GOLD_FRESHNESS,
    )

    @dg.asset(
        key=["gold", contract.features_table],
        ins={"applications": dg.AssetIn(key=["silver", contract.entity.name])},
        description=f"Model features of each {contract.entity.name} row, feature set {feature_set.version}.",
        metadata={**partition_metadata(), "feature_set_version": feature_set.version},
        **common,
    )
    def features(context: dg.AssetExecutionContext, applications: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        frame = feature_set.engineer(applications).with_columns(
            pl.lit(feature_set.version).alias("feature_set_version")
        )
        log.info("gold features: %d rows, feature set %s", frame.height, feature_set.version)
        return dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=applications.height,
                feature_set_version=feature_set.version,
                features=len(feature_set.names),
            ),
        )

    @dg.asset(
        key=["gold", contract.labels_table],
        ins={
            "outcomes": dg.AssetIn(key=["silver", contract.outcome.name]),
            "applications": dg.AssetIn(
                key=["silver", contract.entity.name],
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-LABEL_MATCH_WINDOW_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
                ),
            ),
        },
        description=(
            f"One row per {contract.entity.name} row whose outcome is known, partitioned by label_date, the day the "
            f"outcome landed; matched to applications up to {LABEL_MATCH_WINDOW_DAYS} days back."
        ),
        metadata=partition_metadata(),
        **common,
    )
    def labels(
        context: dg.AssetExecutionContext, outcomes: pl.DataFrame, applications: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        result = build_labels(outcomes, applications, contract.key, contract.label, contract.label_time)
        if result.unmatched.height:
            log.warning(
                "%d outcome(s) match no application in the %d days before they landed",
                result.unmatched.height,
                LABEL_MATCH_WINDOW_DAYS,
            )
        return dg.Output(
            result.labels,
            metadata=table_metadata(
                result.labels,
                started,
                rows_in=outcomes.height,
                rows_rejected=result.unmatched.height,
                unmatched_outcomes=result.unmatched.height,
                positive_rate=float(result.labels[contract.label].mean() or 0.0),
            ),
        )

    return [features, labels]
