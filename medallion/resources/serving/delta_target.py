"""Serving into Delta Lake: a table per served table under MEDALLION_DELTA_URI, partitioned by day. A run's days
are replaced by one commit (`overwrite` with a predicate), so any Delta reader sees the old version or the new."""

from __future__ import annotations

from datetime import date

import polars as pl

from medallion.logic.serving.tables import ServedTable
from medallion.resources.serving.schema import added_columns, partition_predicate


class DeltaTarget:
    name = "delta"

    def __init__(self, root: str):
        self.root = root.rstrip("/")

    def location(self, table: ServedTable) -> str:
        return f"{self.root}/{table.path}"

    def rows_by_day(self, table: ServedTable, first: date, last: date) -> dict[date, int]:
        column = table.partition_column
        served = pl.scan_delta(self.location(table)).filter(pl.col(column).is_between(first, last))
        return dict(served.group_by(column).len().collect().iter_rows())

    def replace(self, table: ServedTable, frame: pl.DataFrame, first: date, last: date) -> None:
        from deltalake import DeltaTable, write_deltalake
        from deltalake.exceptions import TableNotFoundError

        uri = self.location(table)
        try:
            existing = [field.name for field in DeltaTable(uri).schema().fields]
        except TableNotFoundError:
            existing = list(frame.columns)
        added = added_columns(uri, existing, frame.columns)
        write_deltalake(
            uri,
            frame.to_arrow(),
            partition_by=[table.partition_column],
            mode="overwrite",
            predicate=partition_predicate(table.partition_column, first, last),
            schema_mode="merge" if added else None,
        )
