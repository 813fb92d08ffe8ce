"""The whole ETL as Dagster runs it (one single-run backfill, in process) against the same plain functions alone."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from medallion.settings import Settings


def dagster_backfill(home: Path, first: date, days: int) -> dict:
    import dagster as dg

    from medallion.definitions import build_definitions

    defs = build_definitions(Settings(home=home, env="local"))
    last = first + timedelta(days=days - 1)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("etl_job").execute_in_process(
            instance=instance,
            tags={"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)},
        )
    return {"success": result.success, "partitions": days}


def plain_functions(files: list[Path]) -> dict:
    from benchmarks.etl import medallion_path

    return medallion_path(files)
