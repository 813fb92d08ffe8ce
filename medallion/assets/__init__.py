"""Asset factories: each contract yields its bronze, silver and gold assets."""

from __future__ import annotations

import dagster as dg

from medallion.assets.bronze import build_bronze_asset
from medallion.assets.gold import build_gold_assets
from medallion.assets.ml_predictions import build_predictions_asset
from medallion.assets.ml_training import build_training_assets
from medallion.assets.silver import build_silver_assets
from medallion.contract import Contract
from medallion.logic.etl.feature_sets import FeatureSet


def build_etl_assets(contract: Contract, feature_set: FeatureSet) -> list[dg.AssetsDefinition]:
    return [
        *[build_bronze_asset(feed) for feed in contract.feeds],
        build_silver_assets(contract),
        *build_gold_assets(contract, feature_set),
    ]


def build_ml_assets(contract: Contract, feature_set: FeatureSet) -> list[dg.AssetsDefinition]:
    return [*build_training_assets(contract, feature_set), build_predictions_asset(contract, feature_set)]
