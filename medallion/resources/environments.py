"""MEDALLION_ENV → resources. Local: files under MEDALLION_HOME. Prod overrides what is set in the environment."""

from __future__ import annotations

from medallion.resources.landing import LandingZone
from medallion.resources.warehouse import Warehouse, WarehouseIOManager
from medallion.settings import Settings


def build_resources(settings: Settings) -> dict:
    database = str(settings.warehouse_path)
    return {
        "io_manager": WarehouseIOManager(database=database),
        "warehouse": Warehouse(database=database),
        "landing": LandingZone(root=str(settings.landing_dir)),
    }
