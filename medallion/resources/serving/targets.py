"""The `serving` resource: the targets of MEDALLION_SERVING_TARGETS, each replacing a run's days atomically."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import dagster as dg
import polars as pl

from medallion.logic.serving.tables import ServedTable
from medallion.resources.serving.delta_target import DeltaTarget
from medallion.resources.serving.duckdb_target import DuckDBTarget
from medallion.resources.serving.postgres_target import PostgresTarget
from medallion.resources.serving.schema import ServingError
from medallion.resources.warehouse import WarehouseLocation
from medallion.settings import SERVING_TARGETS


@dataclass(frozen=True)
class Load:
    target: str
    location: str
    rows: int
    seconds: float


class ServingTargets(dg.ConfigurableResource):
    """`targets` in the order they are loaded; `pg_url` is read from MEDALLION_PG_URL at run time (it holds a
    password), `delta_root` is a folder or an object-store URI."""

    targets: list[str]
    warehouse: WarehouseLocation
    delta_root: str
    pg_url: str | None = None

    def writers(self) -> list:
        return [self._writer(target) for target in self.targets]

    def _writer(self, target: str):
        if target == "duckdb":
            return DuckDBTarget(self.warehouse)
        if target == "postgres":
            return PostgresTarget(self.pg_url or "")
        if target == "delta":
            return DeltaTarget(self.delta_root)
        raise ServingError(f"unknown serving target {target!r}; use one or more of {', '.join(SERVING_TARGETS)}")

    def replace(self, table: ServedTable, frame: pl.DataFrame, first: date, last: date) -> list[Load]:
        """Replaces the days first..last of `table` in every target with `frame`, target by target."""
        loads = []
        for writer in self.writers():
            started = time.perf_counter()
            writer.replace(table, frame, first, last)
            loads.append(Load(writer.name, writer.location(table), frame.height, time.perf_counter() - started))
        return loads

    def rows_by_day(self, table: ServedTable, first: date, last: date) -> dict[str, dict[date, int]]:
        """What each target holds for the days first..last, read back: target → day → rows."""
        return {writer.name: writer.rows_by_day(table, first, last) for writer in self.writers()}
