"""Monitoring and the retrain decision: the window's drift, late-label performance and data quality, then the rules.

ml/monitoring reads through the Warehouse resource rather than through IO-manager inputs: late labels
of the window refer to predictions made up to LABEL_MATCH_WINDOW_DAYS earlier, so a partition mapping
would load months of predictions to keep a few thousand rows, while one SQL join reads only those.
The window's upstream partitions are still declared as deps, so lineage and staleness show in the UI.
"""

import base64
import dataclasses
import json
import logging
import time
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.monitoring.decision import RetrainRules, decide_retrain
from medallion.logic.monitoring.measures import decision_inputs, join_matured, measure_window
from medallion.logic.monitoring.report import monitoring_markdown, plot_monitoring
from medallion.logic.monitoring.window_inputs import (
    WindowInputs,
    count_matured_labels,
    count_predictions,
    load_window,
    version_holdouts,
    version_references,
)
from medallion.logic.monitoring.window_size import grow_window, window_rows
from medallion.ml_settings import MlSettings
from medallion.names import CHAMPION, GOLD, ML, SILVER, table_key
from medallion.policies import op_policy
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.monitoring_files import MonitoringFiles
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import as_date
from medallion.utils.table_metadata import table_metadata

log = logging.getLogger("medallion.ml")

DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 91


class MonitoringConfig(dg.Config):
    window_days: int = DEFAULT_WINDOW_DAYS
    # Each window doubles until it holds the retrain rules' minimums, up to max_window_days (window_size.py).
    max_window_days: int = MAX_WINDOW_DAYS
    grow_until_predictions: int = RetrainRules.min_predictions
    grow_until_matured_labels: int = RetrainRules.min_matured_labels
    calibration_bins: int = 10
    top_features: int = 5


class RetrainRulesConfig(dg.Config):
    auc_floor: float = RetrainRules.auc_floor
    max_auc_drop: float = RetrainRules.max_auc_drop
    prediction_psi_threshold: float = RetrainRules.prediction_psi_threshold
    feature_psi_threshold: float = RetrainRules.feature_psi_threshold
    max_drifting_features: int = RetrainRules.max_drifting_features
    min_matured_labels: int = RetrainRules.min_matured_labels
    min_predictions: int = RetrainRules.min_predictions
    yearly_false_alarm: float = RetrainRules.yearly_false_alarm
    decisions_per_year: int = RetrainRules.decisions_per_year


def _window_dep(key: dg.AssetKey) -> dg.AssetDep:
    mapping = dg.TimeWindowPartitionMapping(
        start_offset=-(DEFAULT_WINDOW_DAYS - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )
    return dg.AssetDep(key, partition_mapping=mapping)


def _embedded_png(path) -> dg.MetadataValue:
    # The UI renders markdown images from data URIs; a path value would only show the path.
    encoded = base64.b64encode(path.read_bytes()).decode()
    return dg.MetadataValue.md(f"![monitoring chart](data:image/png;base64,{encoded})")


def retrain_rules_config(ml: MlSettings) -> type[RetrainRulesConfig]:
    """RetrainRulesConfig with the dataset's AUC floor as the default (run config still overrides it)."""
    floor_default = ml.auc_floor

    class DatasetRetrainRulesConfig(RetrainRulesConfig):
        auc_floor: float = floor_default

    return DatasetRetrainRulesConfig


def build_monitoring_assets(
    contract: Contract, feature_set: FeatureSet, start: date, ml: MlSettings
) -> list[dg.AssetsDefinition]:
    names = ml.names
    rules_class = retrain_rules_config(ml)
    upstream = [
        names.predictions,
        table_key(GOLD, contract.labels_table),
        table_key(GOLD, contract.features_table),
        table_key(SILVER, contract.quarantine_table),
    ]

    @dg.asset(
        key=names.monitoring,
        deps=[_window_dep(key) for key in upstream],
        description="Over the trailing window up to D, out-of-sample rows only: feature and prediction PSI, late-label "
        "ROC AUC / Brier / calibration per version, quarantine and null-rate trends. One row per measurement.",
        kinds={"duckdb", "polars", "mlflow"},
        **op_policy(ML, start),
    )
    def monitoring(
        context: dg.AssetExecutionContext,
        config: MonitoringConfig,
        warehouse: Warehouse,
        mlflow: MlflowTracking,
        monitoring_files: MonitoringFiles,
    ) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        mlflow, monitoring_files = mlflow.for_model(names.model_name), monitoring_files.for_dataset(names.files_folder)
        day = as_date(context.partition_key)
        predictions_table = names.sql("predictions")
        drift_window = grow_window(
            "predictions",
            day,
            config.window_days,
            config.max_window_days,
            config.grow_until_predictions,
            lambda window: count_predictions(warehouse, window, predictions_table),
        )
        label_window = grow_window(
            "matured_labels",
            day,
            config.window_days,
            config.max_window_days,
            config.grow_until_matured_labels,
            lambda window: count_matured_labels(warehouse, contract, window, predictions_table),
        )
        window = drift_window.window
        champion = mlflow.version_by_alias(CHAMPION)
        tags = ModelTags.from_mlflow(champion.tags, champion.version) if champion else None
        feature_set_version = tags.feature_set_version if tags else feature_set.version
        inputs: WindowInputs = load_window(
            warehouse, contract, window, feature_set_version, predictions_table, label_window.window
        )
        # Days the champion used are part of its own reference: drift is measured on the others.
        features = (
            inputs.features.filter(~pl.col("partition_date").is_between(*tags.used_days))
            if tags and not inputs.features.is_empty()
            else inputs.features
        )
        versions = {str(v) for v in inputs.predictions["model_version"].unique()} | (
            {str(champion.version)} if champion else set()
        )
        feature_reference, prediction_references = version_references(mlflow, champion, versions)
        matured = join_matured(inputs.matured_predictions, inputs.labels, contract.key, contract.label)
        served = {str(v) for v in matured["model_version"].unique()}
        measures = measure_window(
            day,
            window,
            inputs.predictions,
            matured,
            features,
            feature_set.names,
            feature_reference,
            prediction_references,
            str(champion.version) if champion else None,
            tags.holdout_auc if tags else None,
            inputs.bronze_counts,
            inputs.quarantine_counts,
            config.calibration_bins,
            holdout_auc_se=tags.holdout_auc_se if tags else None,
            holdout_rows=tags.holdout_rows if tags else None,
            holdouts=version_holdouts(mlflow, served),
        )
        frame = pl.concat([measures.to_frame(), window_rows(day, window, [drift_window, label_window])])
        chart = plot_monitoring(measures, monitoring_files.chart_path(day))
        found = decision_inputs(frame)
        log.info(
            "monitoring %s (%s..%s): %d predictions, prediction PSI %s, live AUC %s on %d out-of-sample matured "
            "labels, top drift %s",
            day,
            *window,
            found.n_predictions,
            found.prediction_psi,
            found.live_auc,
            found.matured_labels,
            measures.feature_drift.head(3).select("feature", "psi").rows(),
        )
        return dg.Output(
            frame,
            metadata={
                **table_metadata(frame, started, rows_in=inputs.predictions.height + inputs.labels.height),
                "window": f"{window[0]}..{window[1]}",
                "label_window": f"{label_window.window[0]}..{label_window.window[1]}",
                "windows_grown": "; ".join(found.window_notes) or "no: the configured days held the minimums",
                "champion_version": found.model_version or "none",
                "predictions": found.n_predictions,
                "matured_labels": found.matured_labels,
                "in_sample_labels_excluded": found.in_sample_excluded,
                "live_auc": dg.MetadataValue.float(found.live_auc) if found.live_auc is not None else "n/a",
                "live_auc_measured_on": f"{found.matured_labels} out-of-sample matured labels of v"
                f"{found.performance_version} (predictions of days it did not use; the champion's own while it has "
                f"any, else the latest version that served them); {found.in_sample_excluded} in-sample left out",
                "live_auc_by_version": dg.MetadataValue.json(
                    {
                        version: {"roc_auc": auc, "matured_labels": n}
                        for version, auc, n in measures.performance.select(
                            "model_version", "roc_auc", "matured_labels"
                        ).iter_rows()
                    }
                ),
                "deployed_auc": dg.MetadataValue.float(found.deployed_auc) if found.deployed_auc is not None else "n/a",
                "prediction_psi": dg.MetadataValue.float(found.prediction_psi)
                if found.prediction_psi is not None
                else "n/a",
                "top_drifting_features": dg.MetadataValue.json(
                    {
                        f: round(p, 4)
                        for f, p in measures.feature_drift.head(config.top_features)
                        .select("feature", "psi")
                        .iter_rows()
                    }
                ),
                "summary": dg.MetadataValue.md(monitoring_markdown(measures, config.top_features)),
                "chart": _embedded_png(chart),
                "chart_path": dg.MetadataValue.path(str(chart)),
            },
        )

    @dg.asset(
        key=names.retrain_decision,
        ins={"monitoring": dg.AssetIn(key=names.monitoring)},
        description="Whether to retrain, by rules judged against sampling noise (AUC floor and drop by interval, PSI "
        "by no-drift p-value, features in correlated groups); decisions/<date>.json audits it.",
        kinds={"duckdb", "python"},
        **op_policy(ML, start),
    )
    def retrain_decision(
        context: dg.AssetExecutionContext,
        config: rules_class,
        monitoring: pl.DataFrame,
        monitoring_files: MonitoringFiles,
    ) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        monitoring_files = monitoring_files.for_dataset(names.files_folder)
        day = as_date(context.partition_key)
        rules = RetrainRules(**config.model_dump())
        inputs = decision_inputs(monitoring, rules.min_matured_labels)
        decision = decide_retrain(decision_date=day, rules=rules, **dataclasses.asdict(inputs))
        decided_at = datetime.now(UTC)
        row = pl.DataFrame(
            [
                {
                    "partition_date": day,
                    **decision.to_dict(),
                    "decision_date": day,
                    "triggered_rules": ",".join(decision.triggered_rules),
                    "drifting_features": ",".join(decision.drifting_features),
                    "holdout_auc": inputs.holdout_auc,
                    "performance_version": inputs.performance_version,
                    "deployed_auc": inputs.deployed_auc,
                    "deployed_labels": inputs.deployed_labels,
                    "live_auc_se": inputs.live_auc_se,
                    "matured_labels": inputs.matured_labels,
                    "in_sample_excluded": inputs.in_sample_excluded,
                    "n_predictions": inputs.n_predictions,
                    "prediction_psi": inputs.prediction_psi,
                    "rules": json.dumps(dataclasses.asdict(rules), sort_keys=True),
                    "decided_at": decided_at,
                }
            ],
            schema_overrides={
                "performance_score": pl.Float64,
                "drift_score": pl.Float64,
                "model_version": pl.String,
                "holdout_auc": pl.Float64,
                "performance_version": pl.String,
                "deployed_auc": pl.Float64,
                "live_auc_se": pl.Float64,
                "prediction_psi": pl.Float64,
            },
        )
        audit = {
            **decision.to_dict(),
            "inputs": {**dataclasses.asdict(inputs)},
            "rules": dataclasses.asdict(rules),
            "decided_at": decided_at.isoformat(),
            "dagster_run_id": context.run_id,
        }
        path = monitoring_files.write_decision(day, audit)
        log.info("retrain decision %s: %s (%s)", day, decision.status, decision.reason)
        return dg.Output(
            row,
            metadata={
                **table_metadata(row, started, rows_in=monitoring.height),
                "retrain": decision.retrain,
                "status": decision.status,
                "reason": decision.reason,
                "triggered_rules": ", ".join(decision.triggered_rules) or "none",
                "model_version": decision.model_version or "none",
                "decision_file": dg.MetadataValue.path(str(path)),
            },
        )

    return [monitoring, retrain_decision]
