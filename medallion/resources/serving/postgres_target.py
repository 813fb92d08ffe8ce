"""Serving into PostgreSQL: a table per served table in its schema (`serving` for the shipped dataset), with its
primary key and an index on the day; a run's days are replaced in one transaction, so readers see the old rows or
the new ones, never a gap."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from urllib.parse import unquote, urlsplit

import polars as pl

from medallion.logic.serving.tables import ServedTable
from medallion.resources.serving.schema import ServingError, added_columns
from medallion.settings import PG_URL_VAR

CONNECT_TIMEOUT_SECONDS = 10


POSTGRES_TYPES = {
    pl.Int8: "smallint",  # PostgreSQL has no one-byte integer
    pl.Int16: "smallint",
    pl.UInt8: "smallint",
    pl.Int32: "integer",
    pl.UInt16: "integer",
    pl.Int64: "bigint",
    pl.UInt32: "bigint",
    pl.UInt64: "numeric(20)",
    pl.Float32: "real",
    pl.Float64: "double precision",
    pl.Boolean: "boolean",
    pl.String: "text",
    pl.Date: "date",
}


def postgres_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    if dtype.base_type() not in POSTGRES_TYPES:
        raise ServingError(f"no PostgreSQL type for the Polars type {dtype}; serve it as one of the supported types")
    return POSTGRES_TYPES[dtype.base_type()]


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresTarget:
    name = "postgres"

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
            raise ServingError(
                f"{PG_URL_VAR} is not a PostgreSQL URL; use postgresql://user:password@host:port/database"
            )
        self.url = url
        self.password = unquote(parts.password or "")
        self.user = unquote(parts.username or "")
        self.server = f"{parts.hostname}:{parts.port or 5432}"
        self.database = parts.path.strip("/")

    def location(self, table: ServedTable) -> str:
        """Where the rows went, without the password."""
        return f"postgresql://{self.user}@{self.server}/{self.database} {table.qualified}"

    @contextmanager
    def connect(self) -> Iterator:
        import psycopg2

        try:
            connection = psycopg2.connect(self.url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg2.OperationalError as error:
            reason = " ".join(str(error).split())
            if self.password:
                reason = reason.replace(self.password, "***")
            raise ServingError(
                f"cannot connect to PostgreSQL at {self.server}, database {self.database!r} as {self.user!r} "
                f"({PG_URL_VAR}): {reason}. The served tables were not changed; retry once the server is reachable."
            ) from None
        try:
            yield connection
        finally:
            connection.close()

    def rows_by_day(self, table: ServedTable, first: date, last: date) -> dict[date, int]:
        column = _identifier(table.partition_column)
        with self.connect() as connection, connection.cursor() as cursor:
            cursor.execute(
                f"select {column}, count(*) from {_target(table)} where {column} between %s and %s group by 1",
                [first, last],
            )
            return dict(cursor.fetchall())

    def replace(self, table: ServedTable, frame: pl.DataFrame, first: date, last: date) -> None:
        target = _target(table)
        columns = {name: postgres_type(dtype) for name, dtype in frame.schema.items()}
        with self.connect() as connection, connection:  # the inner `with` is one transaction: commit or roll back
            with connection.cursor() as cursor:
                # Two runs loading the same table wait for each other instead of racing on its keys.
                cursor.execute("select pg_advisory_xact_lock(hashtext(%s))", [table.qualified])
                self._create(cursor, table, target, columns)
                cursor.execute(
                    "select column_name from information_schema.columns where table_schema = %s and table_name = %s "
                    "order by ordinal_position",
                    [table.schema, table.name],
                )
                existing = [row[0] for row in cursor.fetchall()]
                for column in added_columns(self.location(table), existing, frame.columns):
                    cursor.execute(f"alter table {target} add column {_identifier(column)} {columns[column]}")
                cursor.execute(
                    f"delete from {target} where {_identifier(table.partition_column)} between %s and %s", [first, last]
                )
                if frame.height:
                    names = ", ".join(_identifier(column) for column in frame.columns)
                    cursor.copy_expert(f"copy {target} ({names}) from stdin with (format csv)", _csv(frame))

    @staticmethod
    def _create(cursor, table: ServedTable, target: str, columns: dict[str, str]) -> None:
        definition = ", ".join(f"{_identifier(name)} {type_}" for name, type_ in columns.items())
        key = ", ".join(_identifier(column) for column in table.primary_key)
        cursor.execute(f"create schema if not exists {table.schema}")
        cursor.execute(f"create table if not exists {target} ({definition}, primary key ({key}))")
        cursor.execute(
            f"create index if not exists {_identifier(table.name + '_by_day')} "
            f"on {target} ({_identifier(table.partition_column)})"
        )


def _target(table: ServedTable) -> str:
    return f"{table.schema}.{_identifier(table.name)}"  # schemas are lower-case SQL names (medallion.ml_settings)


def _csv(frame: pl.DataFrame) -> io.BytesIO:
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    buffer.seek(0)
    return buffer
