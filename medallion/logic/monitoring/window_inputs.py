"""What ml/monitoring reads: the window's rows from the warehouse and the drift references from MLflow."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from medallion.contract import Contract
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.monitoring.drift import FeatureReference, load_reference
from medallion.logic.monitoring.measures import Holdout
from medallion.resources.mlflow_tracking import MlflowStoreError, MlflowTracking
from medallion.resources.warehouse import Warehouse

log = logging.getLogger("medallion.ml")

FEATURE_REFERENCE = "reference/feature_bins.json"
PREDICTION_REFERENCE = "reference/prediction_bins.json"
COUNTS_SCHEMA = {"partition_date": pl.Date, "feed": pl.String, "rows": pl.Int64}


@dataclass(frozen=True)
class WindowInputs:
    predictions: pl.DataFrame  # the window's predictions
    labels: pl.DataFrame  # labels that became known in the window (label_date in the window)
    matured_predictions: pl.DataFrame  # the predictions those labels resolve, from any earlier day
    features: pl.DataFrame  # the window's gold features of the champion's feature set
    bronze_counts: pl.DataFrame
    quarantine_counts: pl.DataFrame


def load_window(
    warehouse: Warehouse,
    contract: Contract,
    window: tuple[date, date],
    feature_set_version: str,
    predictions_table: str = "ml.predictions",
    label_window: tuple[date, date] | None = None,
) -> WindowInputs:
    """The window's rows; labels (and the predictions they resolve) from `label_window` when it is given."""
    key = f'"{contract.key}"'
    label_window = label_window or window
    between = "partition_date between ? and ?"
    prediction_schema = {
        "partition_date": pl.Date,
        contract.key: pl.Int64,
        "probability": pl.Float64,
        "model_version": pl.String,
        "in_sample": pl.Boolean,
    }
    labels_table, features_table = f"gold.{contract.labels_table}", f"gold.{contract.features_table}"

    def read(table: str, sql: str, params: list, empty_schema: dict) -> pl.DataFrame:
        schema, name = table.split(".")
        return (
            warehouse.query(sql, params) if warehouse.table_exists(schema, name) else pl.DataFrame(schema=empty_schema)
        )

    predictions = read(
        predictions_table,
        f"select partition_date, {key}, probability, model_version, in_sample from {predictions_table} where {between}",
        list(window),
        prediction_schema,
    )
    labels = read(
        labels_table,
        f"select * from {labels_table} where {between}",
        list(label_window),
        {contract.key: pl.Int64, "application_date": pl.Date, "label_date": pl.Date, contract.label: pl.Int8},
    )
    matured = pl.DataFrame(schema=prediction_schema)
    if not labels.is_empty():
        matured = read(
            predictions_table,
            f"select p.partition_date, p.{key}, p.probability, p.model_version, p.in_sample from {predictions_table} p "
            f"join (select distinct {key}, application_date from {labels_table} where {between}) l "
            f"on p.{key} = l.{key} and p.partition_date = l.application_date",
            list(label_window),
            prediction_schema,
        )
    features = read(
        features_table,
        f"select * from {features_table} where {between} and feature_set_version = ?",
        [*window, feature_set_version],
        {"partition_date": pl.Date},
    )
    bronze = [
        read(
            f"bronze.{feed.name}",
            f"select partition_date, '{feed.name}' as feed, count(*) as rows "
            f"from bronze.{feed.name} where {between} group by all",
            list(window),
            COUNTS_SCHEMA,
        )
        for feed in contract.feeds
    ]
    quarantine_table = f"silver.{contract.quarantine_table}"
    quarantine = read(
        quarantine_table,
        f"select partition_date, feed, count(*) as rows from {quarantine_table} where {between} group by all",
        list(window),
        COUNTS_SCHEMA,
    )
    return WindowInputs(
        predictions=predictions.with_columns(pl.col("model_version").cast(pl.String)),
        labels=labels,
        matured_predictions=matured.with_columns(pl.col("model_version").cast(pl.String)),
        features=features,
        bronze_counts=pl.concat([b.cast(COUNTS_SCHEMA) for b in bronze])
        if bronze
        else pl.DataFrame(schema=COUNTS_SCHEMA),
        quarantine_counts=quarantine.cast(COUNTS_SCHEMA),
    )


def count_predictions(warehouse: Warehouse, window: tuple[date, date], predictions_table: str) -> int:
    schema, name = predictions_table.split(".")
    if not warehouse.table_exists(schema, name):
        return 0
    sql = f"select count(*) as n from {predictions_table} where partition_date between ? and ?"
    return int(warehouse.query(sql, list(window))["n"][0])


def count_matured_labels(
    warehouse: Warehouse, contract: Contract, window: tuple[date, date], predictions_table: str
) -> int:
    """Labels that became known in the window whose prediction was out of sample: what the performance rules count."""
    labels_table = f"gold.{contract.labels_table}"
    if not all(warehouse.table_exists(*table.split(".")) for table in (predictions_table, labels_table)):
        return 0
    key = f'"{contract.key}"'
    sql = (
        f"select count(*) as n from {predictions_table} p join (select distinct {key}, application_date "
        f"from {labels_table} where partition_date between ? and ?) l "
        f"on p.{key} = l.{key} and p.partition_date = l.application_date where not p.in_sample"
    )
    return int(warehouse.query(sql, list(window))["n"][0])


def version_references(
    mlflow: MlflowTracking, champion, versions: set[str]
) -> tuple[dict[str, FeatureReference] | None, dict[str, FeatureReference]]:
    """The champion's feature reference and each version's prediction reference;
    a missing one is logged and left out."""
    feature_reference = None
    predictions: dict[str, FeatureReference] = {}
    client = mlflow.client() if versions else None
    for version in sorted(versions):
        try:
            run_id = (
                champion.run_id
                if champion and str(champion.version) == version
                else client.get_model_version(mlflow.model_name, version).run_id
            )
            if champion and str(champion.version) == version:
                feature_reference = load_reference(mlflow.load_run_dict(run_id, FEATURE_REFERENCE))
            predictions[version] = load_reference(mlflow.load_run_dict(run_id, PREDICTION_REFERENCE))["probability"]
        except MlflowStoreError:
            raise
        except Exception as error:  # an old version without references must not stop monitoring of the others
            log.warning("no drift reference for %s v%s: %s", mlflow.model_name, version, error)
    return feature_reference, predictions


def version_holdouts(mlflow: MlflowTracking, versions: set[str]) -> dict[str, Holdout]:
    """Each version's holdout AUC from its registry tags, for the versions whose matured labels are judged; a version
    without readable tags is logged and left out (its live AUC is still shown, without a reference to drop from)."""
    holdouts: dict[str, Holdout] = {}
    client = mlflow.client() if versions else None
    for version in sorted(versions):
        try:
            tags = ModelTags.from_mlflow(client.get_model_version(mlflow.model_name, version).tags, version)
        except MlflowStoreError:
            raise
        except Exception as error:  # a deleted or foreign version must not stop monitoring of the others
            log.warning("no holdout AUC for %s v%s: %s", mlflow.model_name, version, error)
            continue
        holdouts[version] = Holdout(tags.holdout_auc, tags.holdout_auc_se, tags.holdout_rows)
    return holdouts
