"""Serving into the warehouse itself, in each served table's schema (`serving` for the shipped dataset): the DuckDB
file locally (the default, nothing else to run), the DuckLake in prod."""

from __future__ import annotations

from datetime import date

import polars as pl

from medallion.logic.serving.tables import ServedTable
from medallion.resources.serving.schema import added_columns
from medallion.resources.warehouse import WarehouseLocation


class DuckDBTarget:
    name = "duckdb"

    def __init__(self, warehouse: WarehouseLocation):
        self.warehouse = warehouse

    def location(self, table: ServedTable) -> str:
        return f"{self.warehouse.describe()} {table.qualified}"

    def rows_by_day(self, table: ServedTable, first: date, last: date) -> dict[date, int]:
        with self.warehouse.connect() as connection:
            rows = connection.execute(
                f'select {table.partition_column}, count(*) from {table.schema}."{table.name}" '
                f"where {table.partition_column} between ? and ? group by 1",
                [first, last],
            ).fetchall()
        return dict(rows)

    def replace(self, table: ServedTable, frame: pl.DataFrame, first: date, last: date) -> None:
        arrow_table = frame.to_arrow()  # noqa: F841 - referenced by name in the SQL below
        target = f'{table.schema}."{table.name}"'
        with self.warehouse.connect() as connection:
            types = dict(connection.execute("select column_name, column_type from (describe arrow_table)").fetchall())
            columns = ", ".join(f'"{name}" {type_}' for name, type_ in types.items())
            key = ", ".join(f'"{column}"' for column in table.primary_key)
            connection.execute(f"create schema if not exists {table.schema}")
            if self.warehouse.is_lake:  # DuckLake has neither keys nor indexes; its files are pruned by day
                connection.execute(f"create table if not exists {target} ({columns})")
            else:
                connection.execute(f"create table if not exists {target} ({columns}, primary key ({key}))")
                connection.execute(
                    f'create index if not exists "{table.name}_by_day" on {target} ({table.partition_column})'
                )
            existing = [
                row[0] for row in connection.execute(f"select name from pragma_table_info('{target}')").fetchall()
            ]
            connection.execute("begin transaction")
            try:
                for column in added_columns(self.location(table), existing, frame.columns):
                    connection.execute(f'alter table {target} add column "{column}" {types[column]}')
                connection.execute(
                    f"delete from {target} where {table.partition_column} between ? and ?", [first, last]
                )
                connection.execute(f"insert into {target} by name select * from arrow_table")
                connection.execute("commit")
            except BaseException:
                connection.execute("rollback")
                raise
