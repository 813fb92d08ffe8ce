"""MEDALLION_ENV → resources: each environment names every resource it provides, in one mapping."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from medallion.resources.alerting import Alerting
from medallion.resources.landing import LandingZone
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.monitoring_files import MonitoringFiles
from medallion.resources.serving import ServingTargets
from medallion.resources.warehouse import Warehouse, WarehouseIOManager
from medallion.settings import ALERT_WEBHOOK_URL_VAR, MLFLOW_TRACKING_URI_VAR, PG_URL_VAR, Settings, SettingsError


def local_resources(settings: Settings) -> dict:
    """Everything under MEDALLION_HOME: a DuckDB file, a sqlite MLflow store (or a server), files for monitoring;
    serving to the targets of MEDALLION_SERVING_TARGETS."""
    database = str(settings.warehouse_path)
    return {
        "io_manager": WarehouseIOManager(database=database),
        "warehouse": Warehouse(database=database),
        "landing": LandingZone(root=str(settings.landing_dir)),
        "mlflow": MlflowTracking(
            tracking_uri=dg.EnvVar(MLFLOW_TRACKING_URI_VAR) if settings.mlflow_server else settings.local_mlflow_uri,
            artifact_root=str(settings.mlflow_dir / "artifacts"),
            registered_model_name=settings.model_name,
        ),
        "monitoring_files": MonitoringFiles(
            decisions_dir=str(settings.decisions_dir), reports_dir=str(settings.reports_dir)
        ),
        "alerting": Alerting(
            alerts_dir=str(settings.alerts_dir),
            webhook_url=dg.EnvVar(ALERT_WEBHOOK_URL_VAR) if settings.alert_webhook else None,
        ),
        "serving": ServingTargets(
            targets=list(settings.serving_targets),
            duckdb_database=database,
            delta_root=settings.delta_root,
            pg_url=dg.EnvVar(PG_URL_VAR) if settings.pg_url else None,
        ),
    }


def prod_resources(settings: Settings) -> dict:
    raise SettingsError(
        "MEDALLION_ENV=prod is not configured in this version: its resources (a DuckLake warehouse on a PostgreSQL "
        "catalog, PostgreSQL instance storage, an MLflow tracking server) are not built yet; use MEDALLION_ENV=local"
    )


RESOURCES_BY_ENV: dict[str, Callable[[Settings], dict]] = {"local": local_resources, "prod": prod_resources}


def resources_for(settings: Settings) -> dict:
    return RESOURCES_BY_ENV[settings.env](settings)
