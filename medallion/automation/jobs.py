"""Jobs name what they run."""

from __future__ import annotations

import dagster as dg

ETL_GROUPS = ("bronze", "silver", "gold")


def build_etl_job(excluded_checks: dg.AssetSelection) -> dg.JobDefinition:
    return dg.define_asset_job(
        "etl_job",
        selection=dg.AssetSelection.groups(*ETL_GROUPS) - excluded_checks,
        description="Landing → bronze → silver (+ quarantine) → gold features and labels, with their quality checks.",
        tags={"medallion/stage": "etl"},
    )


def build_freshness_job(freshness_checks: dg.AssetSelection) -> dg.JobDefinition:
    return dg.define_asset_job(
        "freshness_check_job",
        selection=freshness_checks,
        description="Checks that yesterday's gold partitions exist by their deadline.",
    )


TRAINING_ASSETS = [["ml", "training_set"], ["ml", "model"], ["ml", "model_evaluation"]]


def build_training_job() -> dg.JobDefinition:
    return dg.define_asset_job(
        "training_job",
        selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
        description="Point-in-time training set → candidate models in MLflow → champion/challenger evaluation and aliases.",
        tags={"medallion/stage": "training"},
    )


def build_inference_job() -> dg.JobDefinition:
    return dg.define_asset_job(
        "inference_job",
        selection=dg.AssetSelection.assets(["ml", "predictions"]),
        description="Scores the day's gold features with the champion.",
        tags={"medallion/stage": "inference"},
    )


MONITORING_ASSETS = [["ml", "monitoring"], ["ml", "retrain_decision"]]


def build_monitoring_job() -> dg.JobDefinition:
    return dg.define_asset_job(
        "monitoring_job",
        selection=dg.AssetSelection.assets(*MONITORING_ASSETS),
        description="Drift, late-label performance and data quality over the trailing window → the retrain decision.",
        tags={"medallion/stage": "monitoring"},
    )
