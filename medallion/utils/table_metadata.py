"""The metadata every table asset reports: counts, speed, a preview and its column schema."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import polars as pl

from medallion.contract.catalog import with_declared
from medallion.policies import PARTITION_COLUMN
from medallion.utils.dates import as_date

PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 12


def markdown_table(
    frame: pl.DataFrame, rows: int = PREVIEW_ROWS, columns: int = PREVIEW_COLUMNS, total_rows: int | None = None
) -> str:
    shown = frame.head(rows).select(frame.columns[:columns])
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    total = frame.height if total_rows is None else total_rows
    more = [f"\n_{total} rows, {frame.width} columns; first {len(shown.columns)} columns shown._"]
    return "\n".join([header, rule, *body, *more])


def column_schema(frame: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=n, type=str(t)) for n, t in frame.schema.items()])


def table_metadata(
    frame: pl.DataFrame,
    started: float,
    rows_in: int,
    rows_rejected: int = 0,
    declared: dg.TableSchema | None = None,
    rows_out: int | None = None,
    **extra,
) -> dict:
    """What the run as a whole did. A ranged run writes one materialization per day: `daily_counts` gives each its
    own rows; the run_* figures and the preview are shared by the run's days and say so by their names. `frame` may
    be a sample of the rows out (a ranged step's first rows, `RangeTotals`), with `rows_out` their number."""
    seconds = max(time.perf_counter() - started, 1e-9)
    rows_out = frame.height if rows_out is None else rows_out
    return {
        "run_rows_in": rows_in,
        "run_rows_out": rows_out,
        "run_rows_rejected": rows_rejected,
        "run_seconds": round(seconds, 3),
        "rows_per_second": round(rows_in / seconds, 1),
        "preview": dg.MetadataValue.md(markdown_table(frame, total_rows=rows_out)),
        # The keys TableMetadataSet writes (it is not exported in dagster 1.13): the UI shows schema changes from them.
        "dagster/column_schema": with_declared(column_schema(frame), declared),
        "dagster/row_count": rows_out,
        **extra,
    }


def rows_by_day(frame: pl.DataFrame | None) -> dict:
    if frame is None or PARTITION_COLUMN not in frame.columns:
        return {}
    return dict(frame.group_by(PARTITION_COLUMN).len().iter_rows())


def daily_counts(
    context,
    rows_out: pl.DataFrame,
    rows_in: pl.DataFrame | None = None,
    rejected: pl.DataFrame | None = None,
    asset_key: dg.AssetKey | None = None,
    seconds: dict | None = None,
    files: pl.DataFrame | None = None,
    days: list[date] | None = None,
) -> None:
    """Gives each day of the run (or of its slice `days`) its own rows in / out / rejected (and seconds where they were
    measured per day, files read and ignored where a manifest is given) on its own materialization, so the partitions
    plot and each day's event show that day, not the run's totals."""
    out, bad = rows_by_day(rows_out), rows_by_day(rejected)
    into = out if rows_in is None else rows_by_day(rows_in)
    read = rows_by_day(None if files is None else files.filter(pl.col("status") == "read"))
    ignored = rows_by_day(None if files is None else files.filter(pl.col("status") == "ignored"))
    keys = context.partition_keys if days is None else [day.isoformat() for day in days]
    for key in keys:
        day = as_date(key)
        counts = {"rows_in": into.get(day, 0), "rows_out": out.get(day, 0), "rows_rejected": bad.get(day, 0)}
        if seconds is not None:
            counts["seconds"] = round(seconds.get(day, 0.0), 3)
        if files is not None:
            counts |= {"files_read": read.get(day, 0), "files_ignored": ignored.get(day, 0)}
        context.add_asset_metadata(
            {**counts, "dagster/row_count": counts["rows_out"]}, asset_key=asset_key, partition_key=key
        )


@dataclass
class RangeTotals:
    """A ranged step's run-wide figures, gathered slice by slice: totals, reason counts and the first rows out as a
    preview, never the rows themselves (the step lets each slice go once it is written)."""

    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    sample: pl.DataFrame | None = None

    def add(self, rows_out: pl.DataFrame, rows_in: int | None = None, rows_rejected: int = 0) -> None:
        self.rows_in += rows_out.height if rows_in is None else rows_in
        self.rows_out += rows_out.height
        self.rows_rejected += rows_rejected
        if self.sample is None or self.sample.height < PREVIEW_ROWS:
            head = rows_out.head(PREVIEW_ROWS)
            self.sample = head if self.sample is None else pl.concat([self.sample, head], how="diagonal_relaxed")

    def metadata(self, started: float, declared: dg.TableSchema | None = None, **extra) -> dict:
        return table_metadata(
            self.sample if self.sample is not None else pl.DataFrame(),
            started,
            rows_in=self.rows_in,
            rows_rejected=self.rows_rejected,
            declared=declared,
            rows_out=self.rows_out,
            **extra,
        )
