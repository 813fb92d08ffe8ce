"""Daily predictions: gold features of the day scored by the version holding the champion alias when the run starts."""

import logging
import time
from datetime import UTC, date, datetime

import dagster as dg

from medallion.assets.gold import features_built_from
from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.scoring import score_features
from medallion.names import CHAMPION, GOLD, ML, MlNames, table_key, table_name
from medallion.policies import op_policy
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.table_writes import DaysWrite
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import days_in
from medallion.utils.table_metadata import RangeTotals, daily_counts

log = logging.getLogger("medallion.ml")


def build_predictions_asset(
    contract: Contract, feature_set: FeatureSet, start: date, names: MlNames
) -> dg.AssetsDefinition:
    features_table, predictions_table = table_name(GOLD, contract.features_table), ".".join(names.predictions.path)
    built_from = features_built_from(contract)

    @dg.asset(
        key=names.predictions,
        # Scored by the registry's champion, which model_evaluation promotes: shown in the lineage, and a backfill of
        # both trains and judges before it scores.
        deps=[
            table_key(GOLD, contract.features_table),
            dg.AssetDep(names.model_evaluation, partition_mapping=dg.AllPartitionMapping()),
        ],
        description="One prediction per gold feature row: probability, thresholded label, which model made it, and "
        "in_sample (a day that version used). Scored by the version holding the champion alias, which "
        "ml/model_evaluation promotes.",
        kinds={"duckdb", "scikitlearn", "mlflow"},
        **op_policy(ML, start, single_run_backfill=True),
        output_required=False,
    )
    def predictions(context: dg.AssetExecutionContext, warehouse: Warehouse, mlflow: MlflowTracking):
        started = time.perf_counter()
        mlflow = mlflow.for_model(names.model_name)
        champion = mlflow.version_by_alias(CHAMPION)
        if champion is None:
            reason = (
                f"no version of {mlflow.model_name!r} holds the {CHAMPION} alias yet: run {names.training_job} first"
            )
            log.warning("predictions skipped: %s", reason)
            context.log_event(
                dg.AssetObservation(
                    asset_key=context.asset_key, partition=_first_partition(context), metadata={"skipped": reason}
                )
            )
            return
        tags = ModelTags.from_mlflow(champion.tags, champion.version)
        if tags.feature_set_version != feature_set.version:
            raise dg.Failure(
                description=f"champion v{champion.version} was trained on feature set {tags.feature_set_version}, "
                f"gold holds {feature_set.version}: retrain ({names.training_job}) before scoring"
            )
        threshold, served = tags.threshold, mlflow.load_served(str(champion.version)).pipeline
        scored_at, totals, positives, in_sample, probability = datetime.now(UTC), RangeTotals(), 0, 0, 0.0
        with warehouse.session() as session:
            run_days = days_in(*context.partition_time_window)
            for days in warehouse.slices(session.rows_by_day(run_days, features_table)):
                features = session.read_days(features_table, days, built_from=built_from)
                frame = score_features(
                    served,
                    features,
                    feature_set.names,
                    contract.key,
                    threshold,
                    mlflow.model_name,
                    str(champion.version),
                    feature_set.version,
                    scored_at,
                    used_days=tags.used_days,
                )
                session.replace_days({predictions_table: frame}, DaysWrite.of_days(days, context.run_id))
                daily_counts(context, frame, features, days=days)
                totals.add(frame, rows_in=features.height)
                positives += int(frame["predicted_label"].sum() or 0)
                in_sample += int(frame["in_sample"].sum() or 0)
                probability += float(frame["probability"].sum() or 0.0)
        log.info("predictions: %d rows scored by %s v%s", totals.rows_out, mlflow.model_name, champion.version)
        rows = max(totals.rows_out, 1)
        yield dg.MaterializeResult(
            metadata=totals.metadata(
                started,
                model_version=str(champion.version),
                threshold=threshold,
                predicted_positive_rate=positives / rows,
                in_sample_rows=in_sample,
                in_sample_days=f"{tags.train_start}..{tags.holdout_end}",
                mean_probability=probability / rows,
                **mlflow.link_metadata(champion),
            ),
        )

    return predictions


def _first_partition(context) -> str:
    return context.partition_key_range.start
