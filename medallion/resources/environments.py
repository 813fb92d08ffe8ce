"""MEDALLION_ENV → resources. Local: files under MEDALLION_HOME. Prod overrides what is set in the environment."""

from __future__ import annotations

import os

from medallion.resources.landing import LandingZone
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.warehouse import Warehouse, WarehouseIOManager
from medallion.settings import Settings


def build_resources(settings: Settings) -> dict:
    database = str(settings.warehouse_path)
    return {
        "io_manager": WarehouseIOManager(database=database),
        "warehouse": Warehouse(database=database),
        "landing": LandingZone(root=str(settings.landing_dir)),
        "mlflow": MlflowTracking(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}",
            artifact_root=str(settings.mlflow_dir / "artifacts"),
            registered_model_name=os.environ.get("MEDALLION_MODEL_NAME", "credit_default"),
        ),
    }
