"""ML training: the point-in-time training set, the MLflow-tracked model, and champion/challenger evaluation."""

import logging
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.training_set import TrainingSetError, build_training_set, require_trainable
from medallion.names import CHAMPION, GOLD, ML, MODEL, MODEL_EVALUATION, TRAINING_SET, table_key
from medallion.policies import op_policy
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.utils.dates import as_date
from medallion.utils.table_metadata import markdown_table, table_metadata

log = logging.getLogger("medallion.ml")

TRAINING_WINDOW_DAYS = 90
ML_KINDS = {"python", "scikitlearn", "mlflow"}


class TrainingConfig(dg.Config):
    seed: int = 0
    candidates: list[str] = ["logistic_regression", "random_forest", "hist_gradient_boosting"]
    validation_fraction: float = 0.2
    auc_floor: float = 0.70


class PromotionConfig(dg.Config):
    alpha: float = 0.05
    max_champion_age_days: float = 30
    non_inferiority_margin: float = 0.01
    n_resamples: int = 1000
    seed: int = 0


def window_mapping() -> dg.TimeWindowPartitionMapping:
    return dg.TimeWindowPartitionMapping(
        start_offset=-(TRAINING_WINDOW_DAYS - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def experiment_name(context) -> str:
    job = context.job_name
    return f"medallion/{'adhoc' if job.startswith('__') else job}"


def dagster_tags(context) -> dict[str, str]:
    return {
        "dagster.run_id": context.run_id,
        "dagster.partition": context.partition_key,
        "dagster.job": context.job_name,
    }


def build_training_assets(contract: Contract, feature_set: FeatureSet, start: date) -> list[dg.AssetsDefinition]:
    label, key = contract.label, contract.key

    @dg.asset(
        key=TRAINING_SET,
        ins={
            "features": dg.AssetIn(key=table_key(GOLD, contract.features_table), partition_mapping=window_mapping()),
            "labels": dg.AssetIn(key=table_key(GOLD, contract.labels_table), partition_mapping=window_mapping()),
        },
        description=f"Gold features of the {TRAINING_WINDOW_DAYS} days up to D joined to the labels known on D "
        "(label_date <= D).",
        **op_policy(ML, start),
    )
    def training_set(
        context: dg.AssetExecutionContext, features: pl.DataFrame, labels: pl.DataFrame
    ) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        window = (as_of - timedelta(days=TRAINING_WINDOW_DAYS - 1), as_of)
        current = features.filter(pl.col("feature_set_version") == feature_set.version)
        frame = build_training_set(current, labels, as_of, key, label)
        try:
            require_trainable(frame, label, window, as_of)
        except TrainingSetError as error:
            raise dg.Failure(description=f"ml/training_set {as_of}: {error}") from error
        log.info("training set %s: %d rows, positive rate %.3f", as_of, frame.height, frame[label].mean())
        return dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=features.height,
                positive_rate=float(frame[label].mean()),
                window=f"{window[0]}..{window[1]}",
                label_cutoff=str(as_of),
                latest_label_date=str(frame["label_date"].max()),
                rows_of_other_feature_sets=features.height - current.height,
            ),
        )

    @dg.asset(
        key=MODEL,
        ins={"training_set": dg.AssetIn(key=TRAINING_SET)},
        description="Trains the candidate pipelines on the older days of the training set, validates on the newest, "
        "and registers the best as a new version of the registered model in MLflow.",
        kinds=ML_KINDS,
        **op_policy(ML, start),
    )
    def model(
        context: dg.AssetExecutionContext, config: TrainingConfig, training_set: pl.DataFrame, mlflow: MlflowTracking
    ) -> dg.Output[pl.DataFrame]:
        from medallion.logic.ml.training import train_candidates

        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        result = train_candidates(
            training_set, feature_set.names, label, config.seed, config.candidates, config.validation_fraction
        )
        best = result.best_metrics
        version_tags = ModelTags(
            feature_set_version=feature_set.version,
            candidate=result.best_name,
            threshold=float(result.threshold),
            validation_auc=float(best["roc_auc"]),
            as_of=as_of,
            window_start=training_set["application_date"].min(),
            window_end=training_set["application_date"].max(),
            train_start=result.train_dates[0],
            train_end=result.train_dates[1],
            valid_start=result.valid_dates[0],
            valid_end=result.valid_dates[1],
        )
        with mlflow.start_run(experiment_name(context), f"train {as_of}", tags=dagster_tags(context)) as run:
            tags = {**version_tags.to_mlflow(), **dagster_tags(context)}
            version = _log_and_register(mlflow, run, result, training_set, feature_set, tags, config)
        log.info(
            "model %s v%s (%s): validation AUC %.4f",
            mlflow.registered_model_name,
            version,
            result.best_name,
            best["roc_auc"],
        )
        row = pl.DataFrame(
            {
                "partition_date": [as_of],
                "model_name": [mlflow.registered_model_name],
                "model_version": [str(version)],
                "mlflow_run_id": [run.info.run_id],
                "candidate": [result.best_name],
                "threshold": [result.threshold],
                "auc_floor": [config.auc_floor],
                "feature_set_version": [feature_set.version],
                "train_start": [result.train_dates[0]],
                "train_end": [result.train_dates[1]],
                "valid_start": [result.valid_dates[0]],
                "valid_end": [result.valid_dates[1]],
                "n_train": [result.n_train],
                "n_valid": [result.n_valid],
                **{metric: [float(value)] for metric, value in best.items() if metric not in ("threshold",)},
                "trained_at": [datetime.now(UTC)],
            }
        )
        candidates = pl.DataFrame(
            [
                {"candidate": name, **{m: round(v, 4) for m, v in metrics.items()}}
                for name, metrics in result.metrics.items()
            ]
        )
        return dg.Output(
            row,
            metadata={
                **table_metadata(row, started, rows_in=training_set.height),
                "model_version": str(version),
                "candidate": result.best_name,
                "validation_auc": float(best["roc_auc"]),
                "threshold": float(result.threshold),
                "mlflow_run_id": run.info.run_id,
                "mlflow_run": dg.MetadataValue.url(mlflow.run_url(run)),
                "candidates": dg.MetadataValue.md(
                    markdown_table(candidates.select("candidate", "roc_auc", "pr_auc", "log_loss", "brier", "f1"))
                ),
                "fit_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in result.fit_seconds.items()}),
            },
        )

    @dg.asset(
        key=MODEL_EVALUATION,
        ins={"model": dg.AssetIn(key=MODEL), "training_set": dg.AssetIn(key=TRAINING_SET)},
        description="Champion/challenger: the new version and the current champion scored on the same newest "
        "labelled rows; paired bootstrap CIs, DeLong p-value, and the promotion decision applied to the "
        "registry aliases.",
        kinds=ML_KINDS,
        **op_policy(ML, start),
    )
    def model_evaluation(
        context: dg.AssetExecutionContext,
        config: PromotionConfig,
        model: pl.DataFrame,
        training_set: pl.DataFrame,
        mlflow: MlflowTracking,
    ) -> dg.Output[pl.DataFrame]:
        from medallion.logic.ml.champion import compare_with_champion
        from medallion.logic.ml.evaluation import PromotionRule

        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        new = model.row(0, named=True)
        champion = mlflow.version_by_alias(CHAMPION)
        outcome = compare_with_champion(
            training_set,
            new=contender(
                mlflow, mlflow.client().get_model_version(mlflow.registered_model_name, new["model_version"])
            ),
            champion=contender(mlflow, champion) if champion is not None else None,
            valid_window=(new["valid_start"], new["valid_end"]),
            feature_names=feature_set.names,
            label=label,
            as_of=as_of,
            rule=PromotionRule(config.alpha, config.max_champion_age_days, config.non_inferiority_margin),
            n_resamples=config.n_resamples,
            seed=config.seed,
        )
        mlflow.set_alias(outcome.decision.alias, new["model_version"])
        mlflow.client().set_model_version_tag(
            mlflow.registered_model_name, new["model_version"], "promotion", outcome.decision.branch
        )
        log.info(
            "evaluation %s: v%s → %s (%s)", as_of, new["model_version"], outcome.decision.alias, outcome.decision.reason
        )
        row = outcome.as_row(as_of, new["model_version"])
        return dg.Output(
            row,
            metadata={
                **table_metadata(row, started, rows_in=outcome.n_rows),
                "decision": outcome.decision.branch,
                "alias": outcome.decision.alias,
                "reason": outcome.decision.reason,
                "champion_version": outcome.champion_version or "none",
                "comparison": dg.MetadataValue.md(outcome.markdown()),
            },
        )

    return [training_set, model, model_evaluation]


def contender(mlflow: MlflowTracking, version):
    from medallion.logic.ml.champion import Contender

    tags = ModelTags.from_mlflow(version.tags, version.version)
    return Contender(
        version=str(version.version),
        pipeline=mlflow.load_pipeline(str(version.version)),
        threshold=tags.threshold,
        feature_set_version=tags.feature_set_version,
        train_end=tags.train_end,
        trained_as_of=tags.as_of,
    )


def _log_and_register(
    mlflow: MlflowTracking,
    run,
    result,
    training_set: pl.DataFrame,
    feature_set: FeatureSet,
    version_tags: dict[str, str],
    config: TrainingConfig,
) -> str:
    import mlflow as ml
    import sklearn
    from mlflow.models import infer_signature
    from skops import io as skops_io

    from medallion.logic.ml.training import feature_matrix, plot_calibration, plot_confusion_matrix, plot_roc
    from medallion.logic.monitoring.drift import build_reference

    ml.log_params(
        {
            "seed": config.seed,
            "candidates": ",".join(config.candidates),
            "validation_fraction": config.validation_fraction,
            "feature_set_version": feature_set.version,
            "n_features": len(feature_set.names),
            "best_candidate": result.best_name,
            "threshold": result.threshold,
            "train_dates": f"{version_tags['train_start']}..{version_tags['train_end']}",
            "valid_dates": f"{version_tags['valid_start']}..{version_tags['valid_end']}",
        }
    )
    for name, metrics in result.metrics.items():
        ml.log_metrics({f"{name}.{m}": float(v) for m, v in metrics.items()})
    ml.log_metrics({m: float(v) for m, v in result.best_metrics.items()})
    y_pred = (result.proba_valid >= result.threshold).astype(int)
    with tempfile.TemporaryDirectory() as folder:
        plot_confusion_matrix(result.y_valid, y_pred, Path(folder) / "confusion_matrix.png")
        plot_roc(result.y_valid, result.proba_valid, Path(folder) / "roc_curve.png")
        plot_calibration(result.y_valid, result.proba_valid, Path(folder) / "calibration.png")
        ml.log_artifacts(folder, artifact_path="plots")
    # The drift monitor compares live data with these references, so they travel with the model.
    ml.log_dict(build_reference(training_set, feature_set.names), "reference/feature_bins.json")
    ml.log_dict(
        build_reference(pl.DataFrame({"probability": result.proba_valid}), ["probability"]),
        "reference/prediction_bins.json",
    )
    ml.log_dict({"feature_names": feature_set.names}, "feature_names.json")
    sample = feature_matrix(training_set.head(50), feature_set.names)
    # skops refuses types it cannot vouch for; this pipeline was fitted in this very step, so its own types are trusted.
    trusted = skops_io.get_untrusted_types(data=skops_io.dumps(result.best_pipeline))
    info = ml.sklearn.log_model(
        result.best_pipeline,
        name="model",
        skops_trusted_types=trusted,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        signature=infer_signature(sample, result.best_pipeline.predict_proba(sample)[:, 1]),
        registered_model_name=mlflow.registered_model_name,
    )
    version = str(info.registered_model_version)
    client = mlflow.client()
    for tag, value in version_tags.items():
        client.set_model_version_tag(mlflow.registered_model_name, version, tag, str(value))
    return version
