"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import os
import warnings

import dagster as dg

from medallion.assets import build_etl_assets, build_ml_assets
from medallion.assets.ml_monitoring import build_monitoring_assets
from medallion.automation.alert_sensors import build_alert_sensors
from medallion.automation.jobs import (
    build_etl_job,
    build_freshness_job,
    build_inference_job,
    build_monitoring_job,
    build_training_job,
)
from medallion.automation.retrain_sensor import build_retrain_sensor
from medallion.automation.schedules import (
    build_etl_schedule,
    build_freshness_schedule,
    build_inference_schedule,
    build_monitoring_schedule,
    build_training_schedule,
)
from medallion.automation.sensors import build_landing_sensor
from medallion.checks.freshness import build_freshness_checks
from medallion.checks.ml import build_ml_checks
from medallion.checks.quality import build_quality_checks
from medallion.contract import Contract, load_contracts
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.resources.environments import build_resources
from medallion.settings import Settings, get_settings


def build_definitions(settings: Settings | None = None, contracts: list[Contract] | None = None) -> dg.Definitions:
    with warnings.catch_warnings():
        # backfill_policy, allow_nonexistent_upstream_partitions and the partition freshness check are deliberate.
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.simplefilter("ignore", category=category)
        return _build(settings or get_settings(), contracts if contracts is not None else load_contracts())


def _build(settings: Settings, contracts: list[Contract]) -> dg.Definitions:
    ml_contract = os.environ.get("MEDALLION_ML_CONTRACT", "credit_default")
    assets, checks, gold_keys = [], [], []
    for contract in contracts:
        feature_set = feature_set_for(contract)
        contract_assets = build_etl_assets(contract, feature_set)
        assets += contract_assets
        checks += build_quality_checks(contract, feature_set)
        gold_keys += [key for a in contract_assets for key in a.keys if key.path[0] == "gold"]
        if contract.name == ml_contract:
            assets += build_ml_assets(contract, feature_set)
            assets += build_monitoring_assets(contract, feature_set)
            checks += build_ml_checks(contract)
    freshness_checks = build_freshness_checks(gold_keys)
    freshness_selection = dg.AssetSelection.checks(*freshness_checks)
    etl_job = build_etl_job(excluded_checks=freshness_selection)
    freshness_job = build_freshness_job(freshness_selection)
    jobs, schedules = [etl_job, freshness_job], [build_etl_schedule(etl_job), build_freshness_schedule(freshness_job)]
    sensors = [build_landing_sensor(contracts, etl_job), *build_alert_sensors()]
    if any(key.path[0] == "ml" for a in assets for key in a.keys):
        training_job, inference_job, monitoring_job = (
            build_training_job(),
            build_inference_job(),
            build_monitoring_job(),
        )
        jobs += [training_job, inference_job, monitoring_job]
        schedules += [
            build_training_schedule(training_job),
            build_inference_schedule(inference_job),
            build_monitoring_schedule(monitoring_job),
        ]
        sensors.append(build_retrain_sensor(training_job))
    return dg.Definitions(
        assets=assets,
        asset_checks=[*checks, *freshness_checks],
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources=build_resources(settings),
        executor=dg.in_process_executor,
    )


defs = build_definitions()
