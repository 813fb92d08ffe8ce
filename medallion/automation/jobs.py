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
