"""Asset factories: a contract yields its bronze, silver and gold assets, and with ML its own ML and serving assets.

Groups, tags, kinds and freshness are applied afterwards by `medallion.policies.apply_layer_policies`."""

from __future__ import annotations

from datetime import date

import dagster as dg

from medallion.assets.bronze import build_bronze_asset
from medallion.assets.gold import build_gold_assets
from medallion.assets.ml_monitoring import build_monitoring_assets
from medallion.assets.ml_predictions import build_predictions_asset
from medallion.assets.ml_training import build_training_assets
from medallion.assets.serving import build_serving_assets
from medallion.assets.silver import build_silver_assets
from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.ml_settings import MlSettings


def build_etl_assets(contract: Contract, feature_set: FeatureSet, start: date) -> list[dg.AssetsDefinition]:
    return [
        *[build_bronze_asset(feed, start) for feed in contract.feeds],
        build_silver_assets(contract, start),
        *build_gold_assets(contract, feature_set, start),
    ]


def build_ml_assets(
    contract: Contract, feature_set: FeatureSet, start: date, serving_targets: tuple[str, ...], ml: MlSettings
) -> list[dg.AssetsDefinition]:
    return [
        *build_training_assets(contract, feature_set, start, ml),
        build_predictions_asset(contract, feature_set, start, ml.names),
        build_serving_assets(contract, start, serving_targets, ml.names),
        *build_monitoring_assets(contract, feature_set, start, ml),
    ]
