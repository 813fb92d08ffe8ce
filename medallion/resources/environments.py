"""MEDALLION_ENV → resources: each environment names every resource it provides, in one mapping."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from medallion.resources.alerting import Alerting
from medallion.resources.landing import LandingZone
from medallion.resources.mlflow_tracking import MlflowTracking
from medallion.resources.monitoring_files import MonitoringFiles
from medallion.resources.serving import ServingTargets
from medallion.resources.warehouse import Warehouse, WarehouseIOManager, WarehouseLocation
from medallion.settings import (
    ALERT_WEBHOOK_URL_VAR,
    LAKE_CATALOG_URL_VAR,
    MLFLOW_TRACKING_URI_VAR,
    PG_URL_VAR,
    Settings,
)


def local_resources(settings: Settings) -> dict:
    """Everything under MEDALLION_HOME: a DuckDB file, a sqlite MLflow store (or a server), files for monitoring."""
    warehouse = WarehouseLocation(database=str(settings.warehouse_path), memory_limit=settings.warehouse_memory)
    return shared_resources(settings, warehouse)


def prod_resources(settings: Settings) -> dict:
    """A DuckLake warehouse on a PostgreSQL catalog (several runs write at once) and an MLflow tracking server;
    the Dagster instance on PostgreSQL is deploy/dagster.prod.yaml's. Every URL is read at run time."""
    warehouse = WarehouseLocation(
        database=str(settings.warehouse_path),
        lake_catalog_url=dg.EnvVar(LAKE_CATALOG_URL_VAR),
        lake_data_path=settings.lake_data_root,
        memory_limit=settings.warehouse_memory,
    )
    return shared_resources(settings, warehouse)


def shared_resources(settings: Settings, warehouse: WarehouseLocation) -> dict:
    """What every environment builds the same way around its warehouse; MLflow is a server when its URL is set."""
    return {
        "io_manager": WarehouseIOManager(location=warehouse),
        "warehouse": Warehouse(location=warehouse, slice_rows=settings.slice_rows),
        "landing": LandingZone(root=str(settings.landing_dir)),
        "mlflow": MlflowTracking(
            tracking_uri=dg.EnvVar(MLFLOW_TRACKING_URI_VAR) if settings.mlflow_server else settings.local_mlflow_uri,
            artifact_root=None if settings.mlflow_server else str(settings.mlflow_dir / "artifacts"),
            ui_url=settings.mlflow_ui_url,
            dagster_ui_url=settings.dagster_ui_url,
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
            warehouse=warehouse,
            delta_root=settings.delta_root,
            pg_url=dg.EnvVar(PG_URL_VAR) if settings.pg_url else None,
        ),
    }


RESOURCES_BY_ENV: dict[str, Callable[[Settings], dict]] = {"local": local_resources, "prod": prod_resources}


def resources_for(settings: Settings) -> dict:
    return RESOURCES_BY_ENV[settings.env](settings)
