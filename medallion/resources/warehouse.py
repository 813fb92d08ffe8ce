"""The warehouse: a DuckDB file (local) or a DuckLake on a PostgreSQL catalog (prod), one Polars IO manager over
either, and a query resource for checks, sensors and reports."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbClient, DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient
from pydantic import Field

from medallion.resources.ducklake import connect_lake
from medallion.resources.table_writes import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    DaysWrite,
    StaleDaysError,
    replace_days,
    stale_days,
)
from medallion.resources.warehouse_file import is_lock_conflict, unopenable
from medallion.settings import DEFAULT_SLICE_ROWS, DEFAULT_WAREHOUSE_MEMORY
from medallion.utils.dates import day_spans, days_in, pack_days

log = logging.getLogger("medallion.etl")


class WarehouseLocation(dg.Config):
    """Where the tables live. `lake_catalog_url` set (read through dg.EnvVar: it holds a password): a DuckLake
    whose catalog is that PostgreSQL database and whose files are under `lake_data_path`. Unset: the DuckDB file
    `database`. Plain config, not a resource, so the resources that share it stay simple to build."""

    database: str
    lake_catalog_url: str | None = None
    lake_data_path: str | None = None
    memory_limit: str = DEFAULT_WAREHOUSE_MEMORY  # DuckDB's cache and working memory (settings.py says why)

    @property
    def is_lake(self) -> bool:
        return bool(self.lake_catalog_url)

    def describe(self) -> str:
        return f"DuckLake, data under {self.lake_data_path}" if self.is_lake else self.database

    @contextmanager
    def connect(self, attempts: int = 20) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = self._open(attempts)
        try:
            yield connection
        finally:
            connection.close()

    def _open(self, attempts: int) -> duckdb.DuckDBPyConnection:
        if self.is_lake:
            connection = connect_lake(self.lake_catalog_url, self.lake_data_path or "")
            connection.execute(f"set memory_limit = '{self.memory_limit}'")
            return connection
        # A DuckDB file admits one writing process; another run may hold it for a moment.
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            try:
                return duckdb.connect(
                    self.database, config={"custom_user_agent": "dagster", "memory_limit": self.memory_limit}
                )
            except duckdb.Error as error:
                # Only a lock passes with time; a damaged file fails at once, saying which file and how to recover.
                if not is_lock_conflict(error):
                    raise unopenable(self.database, error) from None
                if attempt == attempts - 1:
                    raise
                # Said out loud: the pool in deploy/dagster.yaml should keep runs from ever meeting here.
                delay = min(0.1 * 2**attempt, 2.0)
                log.warning("warehouse %s is held by another process, retry in %.1f s: %s", self.database, delay, error)
                time.sleep(delay)
        raise AssertionError("unreachable")


class Warehouse(dg.ConfigurableResource):
    """The warehouse for the steps that read and write it slice by slice, and for checks, sensors and reports."""

    location: WarehouseLocation
    slice_rows: int = Field(
        default=DEFAULT_SLICE_ROWS,
        ge=1,
        description="Rows a ranged step reads, transforms and commits at a time (a larger day is a slice of its own).",
    )

    def slices(self, rows_by_day: Mapping[date, int]) -> list[list[date]]:
        """The days in consecutive slices of at most `slice_rows` rows (`WarehouseSession.rows_by_day` counts them)."""
        return pack_days(rows_by_day, self.slice_rows)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.location.connect() as connection:
            yield connection

    def query(self, sql: str, parameters: list | None = None) -> pl.DataFrame:
        with self.connect() as connection:
            return WarehouseSession(connection).query(sql, parameters)

    def table_exists(self, schema: str, table: str) -> bool:
        with self.connect() as connection:
            return WarehouseSession(connection).table_exists(schema, table)

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """One connection for several queries (a step's checks): opening one costs tens of ms (a lake: ~0.3 s)."""
        with self.connect() as connection:
            yield WarehouseSession(connection)

    def replace_days(self, tables: dict[str, pl.DataFrame], write: DaysWrite) -> str:
        """Every table's days replaced in one transaction (a step's tables that must agree); returns the write id."""
        with self.connect() as connection:
            return replace_days(connection, tables, write)


class WarehouseSession:
    """`query` and `table_exists` over one open connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection

    def query(self, sql: str, parameters: list | None = None) -> pl.DataFrame:
        return self.connection.execute(sql, parameters or []).pl()

    def read_days(
        self, table: str, days: list[date], columns: str = "*", built_from: list[str] | None = None
    ) -> pl.DataFrame:
        """`table`'s rows for `days` (consecutive); with `built_from`, refused when a day is older than its source."""
        if built_from:
            refuse_stale_days(self.connection, table, built_from, days)
        return self.query(f"select {columns} from {table} where partition_date between ? and ?", [min(days), max(days)])

    def replace_days(self, tables: dict[str, pl.DataFrame], write: DaysWrite) -> str:
        return replace_days(self.connection, tables, write)

    def rows_by_day(self, days: list[date], *tables: str) -> dict[date, int]:
        """Rows the `tables` hold together on each of `days` (consecutive), 0 for a day they lack: what a step reading
        them holds in memory for a day."""
        counts = dict.fromkeys(days, 0)
        for table in tables:
            found = self.connection.execute(
                f"select partition_date, count(*) from {table} where partition_date between ? and ? group by all",
                [min(days), max(days)],
            ).fetchall()
            for day, rows in found:
                counts[day] = counts.get(day, 0) + rows
        return counts

    def table_exists(self, schema: str, table: str) -> bool:
        found = self.query(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ? "
            "and table_catalog = current_database()",
            [schema, table],
        )
        return found["n"][0] > 0


def slice_filter(table_slice: TableSlice) -> str:
    """The rows of the output's partitions: `partition_expr` within each time window (our partitions are days)."""
    clauses = []
    for dimension in table_slice.partition_dimensions:
        window = dimension.partitions
        if not isinstance(window, dg.TimeWindow):
            raise NotImplementedError(f"{table_slice.table}: only time-window partitions are stored, got {window!r}")
        start, end = (moment.strftime("%Y-%m-%d %H:%M:%S") for moment in (window.start, window.end))
        clauses.append(f"{dimension.partition_expr} >= '{start}' and {dimension.partition_expr} < '{end}'")
    return " and ".join(clauses) or "true"


def slice_days(table_slice: TableSlice) -> list[date]:
    days = []
    for dimension in table_slice.partition_dimensions:
        window = dimension.partitions
        if isinstance(window, dg.TimeWindow):
            days += days_in(window.start, window.end)
    return days


# An asset's metadata key naming the tables its days are built from, day for day (gold: the silver table it reads).
BUILT_FROM = "built_from"


class PolarsTableHandler(DbTypeHandler[pl.DataFrame]):
    """Stores Polars frames: the output's partitions are replaced in one transaction (table_writes.replace_days), so a
    crash leaves the previous rows, never an empty day. Empty frames are written too (a quiet day clears its
    partition and still creates its table); inserts go by column name, adding the columns the table lacks; loads use
    `.pl()` and refuse days built from an upstream write since replaced (an asset's `built_from` metadata)."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection) -> None:
        write = DaysWrite(where=slice_filter(table_slice), days=slice_days(table_slice), run_id=context.run_id)
        replace_days(connection, {f"{table_slice.schema}.{table_slice.table}": obj}, write)

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        upstream = (context.upstream_output.definition_metadata or {}).get(BUILT_FROM)
        days = slice_days(table_slice)
        if upstream and days:
            table = f"{table_slice.schema}.{table_slice.table}"
            refuse_stale_days(connection, table, list(getattr(upstream, "value", upstream)), days)
        return connection.execute(DuckDbClient.get_select_statement(table_slice)).pl()

    @property
    def supported_types(self):
        return [pl.DataFrame]


def refuse_stale_days(connection, table: str, upstream: list[str], days: list[date]) -> None:
    """Fails naming the days of `table` built from an `upstream` write since replaced (a run stopped between them)."""
    if not WarehouseSession(connection).table_exists(LEDGER_SCHEMA, LEDGER_TABLE):
        return
    stale = stale_days(connection, table, upstream, min(days), max(days))
    if stale:
        found = sorted({day for day, *_ in stale})
        first = stale[0]
        raise StaleDaysError(
            f"{table} is older than {first[1]} for {len(found)} day(s): {day_spans(found)} ({first[1]} was written "
            f"again by run {first[2]} after run {first[3]} built {table} from it: a run stopped between them). "
            f"Materialize {table.replace('.', '/')} for these days again, e.g. `dg launch --job etl_job "
            f"--partition-range {found[0]}...{found[-1]}`"
        )


class WarehouseClient(DbClient):
    """Dagster's DB IO manager deletes a slice and inserts in two autocommitted statements; here the handler
    does both in one transaction, so the delete step is a no-op."""

    def __init__(self, location: WarehouseLocation):
        self.location = location

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice, connection) -> None:
        return None

    @staticmethod
    def ensure_schema_exists(context, table_slice: TableSlice, connection) -> None:
        connection.execute(f"create schema if not exists {table_slice.schema}")

    @staticmethod
    def get_select_statement(table_slice: TableSlice) -> str:
        return DuckDbClient.get_select_statement(table_slice)

    @contextmanager
    def connect(self, context, table_slice: TableSlice) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.location.connect() as connection:
            yield connection


class WarehouseIOManager(dg.ConfigurableIOManagerFactory):
    """Polars frames in the warehouse; the asset key is [schema, table], `partition_expr` names the day column."""

    location: WarehouseLocation

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=WarehouseClient(self.location),
            database=self.location.database,
            type_handlers=[PolarsTableHandler()],
            default_load_type=pl.DataFrame,
            io_manager_name="WarehouseIOManager",
        )
