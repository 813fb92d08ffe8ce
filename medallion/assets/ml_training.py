"""ML training: the point-in-time training set, the MLflow-tracked model, and champion/challenger evaluation."""

import logging
import time
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl

from medallion.assets.gold import features_built_from, labels_built_from
from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.ml.links import DAGSTER_RUN_URL_TAG
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.run_records import PLOTS, TrainingRecord, png_markdown
from medallion.logic.ml.run_records import experiment_description as about
from medallion.logic.ml.training_set import TrainingSetError, build_training_set, require_trainable
from medallion.ml_settings import MlSettings
from medallion.names import CHAMPION, GOLD, ML, table_key, table_name
from medallion.policies import op_policy
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import as_date, date_range
from medallion.utils.table_metadata import RangeTotals, markdown_table, table_metadata

log = logging.getLogger("medallion.ml")

TRAINING_WINDOW_DAYS = 90
ML_KINDS = {"python", "scikitlearn", "mlflow"}


class TrainingConfig(dg.Config):
    seed: int = 0
    candidates: list[str] = ["logistic_regression", "random_forest", "hist_gradient_boosting"]
    validation_fraction: float = 0.2
    holdout_fraction: float = 0.2
    auc_floor: float = 0.70


class PromotionConfig(dg.Config):
    alpha: float = 0.05
    max_champion_age_days: float = 30
    calibration_margin: float = 0.005
    n_resamples: int = 1000
    seed: int = 0


def window_mapping() -> dg.TimeWindowPartitionMapping:
    return dg.TimeWindowPartitionMapping(
        start_offset=-(TRAINING_WINDOW_DAYS - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def read_training_set(
    warehouse: Warehouse, contract: Contract, feature_set_version: str, window: tuple[date, date]
) -> tuple[pl.DataFrame, RangeTotals]:
    """The window's training set, its features read a slice at a time and joined to the labels known on its last
    day: memory holds the labelled rows and one slice, not every feature row of the window (`RangeTotals`: rows read,
    rows of other feature sets as rejected)."""
    first, as_of = window
    features_table, labels_table = table_name(GOLD, contract.features_table), table_name(GOLD, contract.labels_table)
    parts, read = [], RangeTotals()
    with warehouse.session() as session:
        labels = session.read_days(labels_table, [first, as_of], built_from=labels_built_from(contract))
        for days in warehouse.slices(session.rows_by_day(date_range(first, as_of), features_table)):
            features = session.read_days(features_table, days, built_from=features_built_from(contract))
            current = features.filter(pl.col("feature_set_version") == feature_set_version)
            parts.append(build_training_set(current, labels, as_of, contract.key, contract.label))
            read.add(parts[-1], rows_in=features.height, rows_rejected=features.height - current.height)
    return pl.concat(parts, how="vertical").sort(["application_date", contract.key]), read


def experiment_name(context) -> str:
    job = context.job_name
    return f"medallion/{'adhoc' if job.startswith('__') else job}"


def dagster_tags(context) -> dict[str, str]:
    return {
        "dagster.run_id": context.run_id,
        "dagster.partition": context.partition_key,
        "dagster.job": context.job_name,
    }


def training_record(context, mlflow: MlflowTracking, dataset: str, label: str, as_of: date) -> TrainingRecord:
    run_url = mlflow.dagster_run_url(context.run_id)
    return TrainingRecord(
        dataset=dataset,
        label=label,
        as_of=as_of,
        dagster_run_url=run_url,
        training_set_url=mlflow.dagster_asset_url(context.asset_key_for_input("training_set"), context.partition_key),
        dagster_tags={**dagster_tags(context), DAGSTER_RUN_URL_TAG: run_url},
    )


def training_config(ml: MlSettings) -> type[TrainingConfig]:
    """TrainingConfig with the dataset's candidates and AUC floor as defaults (run config still overrides them)."""
    candidates_default, floor_default = list(ml.candidates), ml.auc_floor

    class DatasetTrainingConfig(TrainingConfig):
        candidates: list[str] = candidates_default
        auc_floor: float = floor_default

    return DatasetTrainingConfig


def build_training_assets(
    contract: Contract, feature_set: FeatureSet, start: date, ml: MlSettings
) -> list[dg.AssetsDefinition]:
    label, names = contract.label, ml.names
    labels_key = table_key(GOLD, contract.labels_table)
    config_class = training_config(ml)

    @dg.asset(
        key=names.training_set,
        deps=[
            dg.AssetDep(table_key(GOLD, contract.features_table), partition_mapping=window_mapping()),
            dg.AssetDep(labels_key, partition_mapping=window_mapping()),
        ],
        description=f"Gold features of the {TRAINING_WINDOW_DAYS} days up to D joined to the labels known on D "
        "(label_date <= D).",
        **op_policy(ML, start),
    )
    def training_set(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        window = (as_of - timedelta(days=TRAINING_WINDOW_DAYS - 1), as_of)
        frame, read = read_training_set(warehouse, contract, feature_set.version, window)
        try:
            require_trainable(frame, label, window, as_of, labels_key.to_user_string())
        except TrainingSetError as error:
            raise dg.Failure(
                description=f"dataset {contract.name}: {names.training_set.to_user_string()} {as_of}: {error}"
            ) from error
        log.info("training set %s: %d rows, positive rate %.3f", as_of, frame.height, frame[label].mean())
        return dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=read.rows_in,
                positive_rate=float(frame[label].mean()),
                window=f"{window[0]}..{window[1]}",
                label_cutoff=str(as_of),
                latest_label_date=str(frame["label_date"].max()),
                rows_of_other_feature_sets=read.rows_rejected,
            ),
        )

    @dg.asset(
        key=names.model,
        ins={"training_set": dg.AssetIn(key=names.training_set)},
        description="Fits the candidates on the oldest days, chooses one and tunes its threshold on the next, measures "
        "it on the newest (holdout) days and registers it in MLflow; metrics are the holdout's.",
        kinds=ML_KINDS,
        **op_policy(ML, start),
    )
    def model(
        context: dg.AssetExecutionContext, config: config_class, training_set: pl.DataFrame, mlflow: MlflowTracking
    ) -> dg.Output[pl.DataFrame]:
        from medallion.logic.ml.training import train_candidates

        mlflow = mlflow.for_model(names.model_name)
        mlflow.ensure_reachable()
        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        try:
            result = train_candidates(
                training_set,
                feature_set.names,
                label,
                config.seed,
                config.candidates,
                config.validation_fraction,
                holdout_fraction=config.holdout_fraction,
                categories=feature_set.categories,
            )
        except ValueError as error:
            raise dg.Failure(
                description=f"dataset {contract.name}: {names.model.to_user_string()} {as_of}: {error}"
            ) from error
        holdout = result.holdout_metrics
        version_tags = ModelTags(
            feature_set_version=feature_set.version,
            candidate=result.best_name,
            threshold=float(result.threshold),
            selection_auc=float(result.best_metrics["roc_auc"]),
            holdout_auc=float(holdout["roc_auc"]),
            holdout_auc_se=float(result.holdout_auc_se),
            holdout_rows=result.n_holdout,
            as_of=as_of,
            window_start=training_set["application_date"].min(),
            window_end=training_set["application_date"].max(),
            train_start=result.train_dates[0],
            train_end=result.train_dates[1],
            valid_start=result.valid_dates[0],
            valid_end=result.valid_dates[1],
            holdout_start=result.holdout_dates[0],
            holdout_end=result.holdout_dates[1],
        )
        measured_on = (
            f"holdout: {result.n_holdout} rows of application days {result.holdout_dates[0]}..{result.holdout_dates[1]}"
            ", not used to fit, choose or tune the model"
        )
        record = training_record(context, mlflow, contract.name, label, as_of)
        experiment = experiment_name(context)
        with mlflow.start_run(
            experiment, f"train {as_of}", tags=dict(record.dagster_tags), experiment_description=about(experiment)
        ) as run:
            tags = {**version_tags.to_mlflow(), **record.dagster_tags, "measured_on": measured_on}
            version, plots = _log_and_register(mlflow, result, training_set, feature_set, tags, config, record)
        log.info(
            "model %s v%s (%s): holdout AUC %.4f on %d rows (selection AUC %.4f)",
            mlflow.model_name,
            version,
            result.best_name,
            holdout["roc_auc"],
            result.n_holdout,
            result.best_metrics["roc_auc"],
        )
        row = pl.DataFrame(
            {
                "partition_date": [as_of],
                "model_name": [mlflow.model_name],
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
                "holdout_start": [result.holdout_dates[0]],
                "holdout_end": [result.holdout_dates[1]],
                "n_train": [result.n_train],
                "n_valid": [result.n_valid],
                "n_holdout": [result.n_holdout],
                "selection_auc": [float(result.best_metrics["roc_auc"])],
                **{metric: [float(value)] for metric, value in holdout.items() if metric not in ("threshold",)},
                "roc_auc_se": [float(result.holdout_auc_se)],
                "flag_rate": [result.flag_rate.rate],
                "flag_rate_low": [result.flag_rate.low],
                "flag_rate_high": [result.flag_rate.high],
                "measured_on": [measured_on],
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
                "holdout_auc": float(holdout["roc_auc"]),
                "holdout_rows": result.n_holdout,
                "measured_on": measured_on,
                "selection_auc": float(result.best_metrics["roc_auc"]),
                "threshold": float(result.threshold),
                "flag_rate": result.flag_rate.text(),
                "mlflow_run_id": run.info.run_id,
                "mlflow_run": dg.MetadataValue.url(mlflow.run_url(run)),
                "mlflow_model_version": dg.MetadataValue.url(mlflow.model_version_url(version)),
                "mlflow_experiment": dg.MetadataValue.url(mlflow.experiment_url(run.info.experiment_id)),
                **{name: dg.MetadataValue.md(png_markdown(png, PLOTS[name])) for name, png in plots.items()},
                "candidates": dg.MetadataValue.md(
                    f"Measured on the selection days {result.valid_dates[0]}..{result.valid_dates[1]} "
                    f"({result.n_valid} rows), which chose the candidate: optimistic for the winner.\n\n"
                    + markdown_table(candidates.select("candidate", "roc_auc", "pr_auc", "log_loss", "brier"))
                ),
                "fit_seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in result.fit_seconds.items()}),
            },
        )

    @dg.asset(
        key=names.model_evaluation,
        ins={"model": dg.AssetIn(key=names.model), "training_set": dg.AssetIn(key=names.training_set)},
        description="Champion/challenger on labelled days neither version used: paired bootstrap CIs at 1 - alpha, "
        "DeLong p-value, calibration guard; the decision sets the registry aliases.",
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

        mlflow = mlflow.for_model(names.model_name)
        started = time.perf_counter()
        as_of = as_date(context.partition_key)
        new = model.row(0, named=True)
        champion = mlflow.version_by_alias(CHAMPION)
        rule = PromotionRule(config.alpha, config.max_champion_age_days, config.calibration_margin)
        outcome = compare_with_champion(
            training_set,
            new=contender(mlflow, mlflow.client().get_model_version(mlflow.model_name, new["model_version"])),
            champion=contender(mlflow, champion) if champion is not None else None,
            label=label,
            as_of=as_of,
            rule=rule,
            n_resamples=config.n_resamples,
            seed=config.seed,
        )
        mlflow.set_alias(outcome.decision.alias, new["model_version"])
        row = outcome.as_row(as_of, new["model_version"])
        client = mlflow.client()
        adjusted = outcome.decision.selection_adjusted
        for tag, value in {
            "promotion": outcome.decision.branch,
            "promotion_reason": outcome.decision.reason[:4900],  # MLflow caps tag values at 5000 characters
            "promotion_measured_on": row["measured_on"][0],
            **(
                {
                    "promotion_auc_difference": repr(adjusted.observed),
                    "promotion_selection_adjusted_auc_difference": repr(adjusted.estimate),
                    "promotion_selection_adjusted_auc_low": repr(adjusted.low),
                    "promotion_selection_adjusted_auc_high": repr(adjusted.high),
                }
                if adjusted
                else {}
            ),
        }.items():
            client.set_model_version_tag(mlflow.model_name, new["model_version"], tag, value)
        version = describe_promotion(mlflow, new["model_version"], outcome.decision, row["measured_on"][0], context)
        log.info(
            "evaluation %s: v%s → %s (%s)", as_of, new["model_version"], outcome.decision.alias, outcome.decision.reason
        )
        return dg.Output(
            row,
            metadata={
                **table_metadata(row, started, rows_in=outcome.n_rows),
                "decision": outcome.decision.branch,
                "alias": outcome.decision.alias,
                "reason": outcome.decision.reason,
                "measured_on": row["measured_on"][0],
                "champion_version": outcome.champion_version or "none",
                "selection_adjusted_auc_difference": adjusted.estimate if adjusted else "n/a",
                "selection_adjusted_auc_ci": f"[{adjusted.low:+.4f}, {adjusted.high:+.4f}]" if adjusted else "n/a",
                "selection_adjustment": outcome.selection_adjustment or "n/a",
                "comparison": dg.MetadataValue.md(outcome.markdown()),
                **mlflow.link_metadata(version),
                **(mlflow.link_metadata(champion, prefix="champion") if champion is not None else {}),
            },
        )

    return [training_set, model, model_evaluation]


def describe_promotion(mlflow: MlflowTracking, version: str, decision, measured_on: str, context):
    """The version's description gains the decision; returns the version as it now is."""
    from medallion.logic.ml.run_records import with_promotion

    client, name = mlflow.client(), mlflow.model_name
    current = client.get_model_version(name, version)
    text = with_promotion(
        current.description, decision.alias, decision.reason, measured_on, mlflow.dagster_run_url(context.run_id)
    )
    return client.update_model_version(name, version, description=text)


def contender(mlflow: MlflowTracking, version):
    from medallion.logic.ml.champion import Contender

    tags = ModelTags.from_mlflow(version.tags, version.version)
    served = mlflow.load_served(str(version.version))
    return Contender(
        version=str(version.version),
        pipeline=served.pipeline,
        threshold=tags.threshold,
        feature_set_version=tags.feature_set_version,
        feature_names=served.feature_names,
        holdout_start=tags.holdout_start,
        holdout_end=tags.holdout_end,
        trained_as_of=tags.as_of,
    )


def _log_and_register(
    mlflow: MlflowTracking,
    result,
    training_set: pl.DataFrame,
    feature_set: FeatureSet,
    version_tags: dict[str, str],
    config: TrainingConfig,
    record: TrainingRecord,
) -> tuple[str, dict[str, bytes]]:
    """Log the active run (candidates as child runs, datasets, metrics, plots, references, the model) and register
    the model; returns its version and the holdout plots' PNG bytes."""
    import mlflow as ml

    from medallion.logic.ml import run_records
    from medallion.logic.ml.model_logging import log_served_model
    from medallion.logic.monitoring.drift import build_reference

    ml.log_params(
        {
            "seed": config.seed,
            "candidates": ",".join(config.candidates),
            "validation_fraction": config.validation_fraction,
            "holdout_fraction": config.holdout_fraction,
            "feature_set_version": feature_set.version,
            "n_features": len(feature_set.names),
            "best_candidate": result.best_name,
            "threshold": result.threshold,
            "train_dates": f"{version_tags['train_start']}..{version_tags['train_end']}",
            "selection_dates": f"{version_tags['valid_start']}..{version_tags['valid_end']}",
            "holdout_dates": f"{version_tags['holdout_start']}..{version_tags['holdout_end']}",
            "n_train": result.n_train,
            "n_selection": result.n_valid,
            "n_holdout": result.n_holdout,
        }
    )
    ml.set_tags(
        {
            "measured_on": version_tags["measured_on"],
            "selection_metrics_measured_on": f"selection days {version_tags['valid_start']}.."
            f"{version_tags['valid_end']} ({result.n_valid} rows), which chose the candidate: ranking metrics only, "
            "in the candidates' child runs",
        }
    )
    datasets = run_records.log_datasets(training_set, result, feature_set.names, record)
    # Thresholded metrics on the selection days would be in-sample for the threshold, so only the holdout has them.
    run_records.log_candidate_runs(result, datasets, record)
    ml.log_metrics({f"holdout.{m}": float(v) for m, v in result.holdout_metrics.items()})
    ml.log_metric("holdout.roc_auc_se", float(result.holdout_auc_se))
    if result.flag_rate is not None:
        flag = result.flag_rate
        ml.log_metrics(
            {"holdout.flag_rate": flag.rate, "holdout.flag_rate_low": flag.low, "holdout.flag_rate_high": flag.high}
        )
    plots = run_records.log_plots(result)
    # The drift monitor compares live data with these references, so they travel with the model.
    ml.log_dict(build_reference(training_set, feature_set.names, groups=True), "reference/feature_bins.json")
    ml.log_dict(
        build_reference(pl.DataFrame({"probability": result.proba_holdout}), ["probability"]),
        "reference/prediction_bins.json",
    )
    ml.log_dict({"feature_names": feature_set.names}, "feature_names.json")
    version = log_served_model(
        result.best_pipeline, training_set, feature_set.names, result.threshold, mlflow.model_name
    )
    client = mlflow.client()
    for tag, value in version_tags.items():
        client.set_model_version_tag(mlflow.model_name, version, tag, str(value))
    run = ml.active_run()
    run_records.describe(
        client,
        mlflow.model_name,
        version,
        result,
        record,
        run_url=mlflow.run_url(run),
        version_url=mlflow.model_version_url(version),
        job=version_tags.get("dagster.job", ""),
    )
    return version, plots
