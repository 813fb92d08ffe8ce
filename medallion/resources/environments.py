"""MEDALLION_ENV → resources. Local: files under MEDALLION_HOME. Prod overrides what is set in the environment."""

from __future__ import annotations

import os

from medallion.resources.landing import LandingZone
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.monitoring_files import MonitoringFiles
from medallion.resources.warehouse import Warehouse, WarehouseIOManager
from medallion.settings import Settings


def build_resources(settings: Settings) -> dict:
    # Not MLFLOW_TRACKING_URI: mlflow.set_tracking_uri() writes that variable, so it would leak between homes.
    database = str(settings.warehouse_path)
    return {
        "io_manager": WarehouseIOManager(database=database),
        "warehouse": Warehouse(database=database),
        "landing": LandingZone(root=str(settings.landing_dir)),
        "mlflow": MlflowTracking(
            tracking_uri=os.environ.get("MEDALLION_MLFLOW_TRACKING_URI")
            or f"sqlite:///{settings.mlflow_dir / 'mlflow.db'}",
            artifact_root=str(settings.mlflow_dir / "artifacts"),
            registered_model_name=os.environ.get("MEDALLION_MODEL_NAME", "credit_default"),
        ),
        "monitoring_files": MonitoringFiles(
            decisions_dir=str(settings.decisions_dir),
            reports_dir=str(settings.home / "monitoring"),
            alerts_dir=str(settings.home / "alerts"),
        ),
    }
