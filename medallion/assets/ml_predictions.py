"""Daily predictions: gold features of the day scored by the version holding the champion alias when the run starts."""

import logging
import time
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.scoring import score_features
from medallion.names import CHAMPION, GOLD, ML, MlNames, table_key
from medallion.policies import op_policy
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.utils.table_metadata import daily_counts, table_metadata

log = logging.getLogger("medallion.ml")


def build_predictions_asset(
    contract: Contract, feature_set: FeatureSet, start: date, names: MlNames
) -> dg.AssetsDefinition:
    @dg.asset(
        key=names.predictions,
        ins={"features": dg.AssetIn(key=table_key(GOLD, contract.features_table))},
        # Scored by the registry's champion, which model_evaluation promotes: shown in the lineage, and a backfill of
        # both trains and judges before it scores.
        deps=[dg.AssetDep(names.model_evaluation, partition_mapping=dg.AllPartitionMapping())],
        description="One prediction per gold feature row: probability, thresholded label, which model made it, and "
        "in_sample (a day that version used). Scored by the version holding the champion alias, which "
        "ml/model_evaluation promotes.",
        kinds={"duckdb", "scikitlearn", "mlflow"},
        **op_policy(ML, start, single_run_backfill=True),
        output_required=False,
    )
    def predictions(context: dg.AssetExecutionContext, features: pl.DataFrame, mlflow: MlflowTracking):
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
        threshold = tags.threshold
        frame = score_features(
            mlflow.load_served(str(champion.version)).pipeline,
            features,
            feature_set.names,
            contract.key,
            threshold,
            mlflow.model_name,
            str(champion.version),
            feature_set.version,
            datetime.now(UTC),
            used_days=tags.used_days,
        )
        log.info("predictions: %d rows scored by %s v%s", frame.height, mlflow.model_name, champion.version)
        daily_counts(context, frame, features)
        yield dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=features.height,
                model_version=str(champion.version),
                threshold=threshold,
                predicted_positive_rate=float(frame["predicted_label"].mean() or 0.0),
                in_sample_rows=int(frame["in_sample"].sum()),
                in_sample_days=f"{tags.train_start}..{tags.holdout_end}",
                mean_probability=float(frame["probability"].mean() or 0.0),
                **mlflow.link_metadata(champion),
            ),
        )

    return predictions


def _first_partition(context) -> str:
    return context.partition_key_range.start
