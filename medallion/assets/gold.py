"""Gold: the feature store (one engineer_features for every consumer) and the point-in-time label store."""

import logging
import time
from datetime import date

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.contract.catalog import features_schema
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.etl.labels import LABEL_MATCH_WINDOW_DAYS, build_labels
from medallion.names import GOLD, SILVER, table_key, table_name
from medallion.policies import op_policy
from medallion.resources.warehouse import BUILT_FROM
from medallion.utils.table_metadata import daily_counts, table_metadata

log = logging.getLogger("medallion.etl")


def build_gold_assets(contract: Contract, feature_set: FeatureSet, start: date) -> list[dg.AssetsDefinition]:
    declared_features = features_schema(feature_set.specs, contract.key)

    @dg.asset(
        key=table_key(GOLD, contract.features_table),
        ins={"applications": dg.AssetIn(key=table_key(SILVER, contract.entity.name))},
        description=f"Model features of each {contract.entity.name} row, feature set {feature_set.version}.",
        metadata={
            "feature_set_version": feature_set.version,
            "dagster/column_schema": declared_features,
            BUILT_FROM: [table_name(SILVER, contract.entity.name)],
        },
        **op_policy(GOLD, start),
    )
    def features(context: dg.AssetExecutionContext, applications: pl.DataFrame) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        frame = feature_set.engineer(applications).with_columns(
            pl.lit(feature_set.version).alias("feature_set_version")
        )
        log.info("gold features: %d rows, feature set %s", frame.height, feature_set.version)
        daily_counts(context, frame, applications)
        return dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=applications.height,
                declared=declared_features,
                feature_set_version=feature_set.version,
                features=len(feature_set.names),
            ),
        )

    @dg.asset(
        key=table_key(GOLD, contract.labels_table),
        ins={
            "outcomes": dg.AssetIn(key=table_key(SILVER, contract.outcome.name)),
            "applications": dg.AssetIn(
                key=table_key(SILVER, contract.entity.name),
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-LABEL_MATCH_WINDOW_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
                ),
            ),
        },
        description=(
            f"One row per {contract.entity.name} row whose outcome is known, partitioned by label_date, the day the "
            f"outcome landed; matched by key and application day, up to {LABEL_MATCH_WINDOW_DAYS} days back."
        ),
        metadata={BUILT_FROM: [table_name(SILVER, contract.outcome.name)]},
        **op_policy(GOLD, start),
    )
    def labels(
        context: dg.AssetExecutionContext, outcomes: pl.DataFrame, applications: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        result = build_labels(
            outcomes,
            applications,
            contract.key,
            contract.label,
            contract.label_time,
            contract.application_time,
            contract.label_maturity_days,
            contract.label_positive,
        )
        reasons = dict(result.unmatched.group_by("reason").len().iter_rows())
        daily_counts(context, result.labels, outcomes, result.unmatched)
        if result.unmatched.height:
            log.warning(
                "%d outcome(s) resolve no application in the %d days before they landed (%s)",
                result.unmatched.height,
                LABEL_MATCH_WINDOW_DAYS,
                ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())),
            )
        return dg.Output(
            result.labels,
            metadata=table_metadata(
                result.labels,
                started,
                rows_in=outcomes.height,
                rows_rejected=result.unmatched.height,
                unmatched_outcomes=result.unmatched.height,
                unmatched_reasons=dg.MetadataValue.json(reasons),
                label_maturity_days=contract.label_maturity_days,
                positive_rate=float(result.labels[contract.label].mean() or 0.0),
            ),
        )

    return [features, labels]
