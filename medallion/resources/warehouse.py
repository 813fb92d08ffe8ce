"""The DuckDB warehouse: an IO manager for Polars frames and a query resource for checks and sensors."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager


class PolarsTableHandler(DbTypeHandler[pl.DataFrame]):
    """Stores Polars frames in DuckDB.

    Unlike the stock handler it also writes empty frames (so a quiet day still creates its table and clears
    its partition), inserts by column name rather than position, and loads with `.pl()`.
    """

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection) -> None:
        arrow_table = obj.to_arrow()  # noqa: F841 - referenced by name in the SQL below
        target = f"{table_slice.schema}.{table_slice.table}"
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(f"create table if not exists {target} as select * from arrow_table limit 0")
        connection.execute(f"insert into {target} by name select * from arrow_table")

    def load_input(self, context: dg.InputContext, table_slice: TableSlice, connection) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        return connection.execute(DuckDbClient.get_select_statement(table_slice)).pl()

    @property
    def supported_types(self):
        return [pl.DataFrame]


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager for Polars frames; the asset key is [schema, table]."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [PolarsTableHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context):
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        return super().create_io_manager(context)


class Warehouse(dg.ConfigurableResource):
    """Read access to the warehouse for checks, sensors and reports."""

    database: str

    @contextmanager
    def connect(self, attempts: int = 20) -> Iterator[duckdb.DuckDBPyConnection]:
        # DuckDB admits one writing process per file; another run may hold it for a moment.
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            try:
                connection = duckdb.connect(self.database, config={"custom_user_agent": "dagster"})
                break
            except duckdb.IOException:
                if attempt == attempts - 1:
                    raise
                time.sleep(min(0.1 * 2**attempt, 2.0))
        try:
            yield connection
        finally:
            connection.close()

    def query(self, sql: str, parameters: list | None = None) -> pl.DataFrame:
        with self.connect() as connection:
            return WarehouseSession(connection).query(sql, parameters)

    def table_exists(self, schema: str, table: str) -> bool:
        with self.connect() as connection:
            return WarehouseSession(connection).table_exists(schema, table)

    @contextmanager
    def session(self) -> Iterator[WarehouseSession]:
        """One connection for several queries (a step's checks): opening and closing one costs tens of ms."""
        with self.connect() as connection:
            yield WarehouseSession(connection)


class WarehouseSession:
    """`query` and `table_exists` over one open connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection

    def query(self, sql: str, parameters: list | None = None) -> pl.DataFrame:
        return self.connection.execute(sql, parameters or []).pl()

    def table_exists(self, schema: str, table: str) -> bool:
        found = self.query(
            "select count(*) as n from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
        return found["n"][0] > 0
