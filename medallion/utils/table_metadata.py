"""The metadata every table asset reports: counts, speed, a preview and its column schema."""

from __future__ import annotations

import time

import dagster as dg
import polars as pl

from medallion.contract.catalog import with_declared
from medallion.policies import PARTITION_COLUMN
from medallion.utils.dates import as_date

PREVIEW_ROWS = 5
PREVIEW_COLUMNS = 12


def markdown_table(frame: pl.DataFrame, rows: int = PREVIEW_ROWS, columns: int = PREVIEW_COLUMNS) -> str:
    shown = frame.head(rows).select(frame.columns[:columns])
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in shown.iter_rows()]
    more = [f"\n_{frame.height} rows, {frame.width} columns; first {len(shown.columns)} columns shown._"]
    return "\n".join([header, rule, *body, *more])


def column_schema(frame: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name=n, type=str(t)) for n, t in frame.schema.items()])


def table_metadata(
    frame: pl.DataFrame,
    started: float,
    rows_in: int,
    rows_rejected: int = 0,
    declared: dg.TableSchema | None = None,
    **extra,
) -> dict:
    """What the run as a whole did. A ranged run writes one materialization per day: `daily_counts` gives each its
    own rows; the run_* figures and the preview are shared by the run's days and say so by their names."""
    seconds = max(time.perf_counter() - started, 1e-9)
    return {
        "run_rows_in": rows_in,
        "run_rows_out": frame.height,
        "run_rows_rejected": rows_rejected,
        "run_seconds": round(seconds, 3),
        "rows_per_second": round(rows_in / seconds, 1),
        "preview": dg.MetadataValue.md(markdown_table(frame)),
        # The keys TableMetadataSet writes (it is not exported in dagster 1.13): the UI shows schema changes from them.
        "dagster/column_schema": with_declared(column_schema(frame), declared),
        "dagster/row_count": frame.height,
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
) -> None:
    """Gives each day of the run its own rows in / out / rejected (and seconds where they were measured per day, files
    read and ignored where a manifest is given) on its own materialization, so the partitions plot and each day's
    event show that day, not the run's totals."""
    out, bad = rows_by_day(rows_out), rows_by_day(rejected)
    into = out if rows_in is None else rows_by_day(rows_in)
    read = rows_by_day(None if files is None else files.filter(pl.col("status") == "read"))
    ignored = rows_by_day(None if files is None else files.filter(pl.col("status") == "ignored"))
    for key in context.partition_keys:
        day = as_date(key)
        counts = {"rows_in": into.get(day, 0), "rows_out": out.get(day, 0), "rows_rejected": bad.get(day, 0)}
        if seconds is not None:
            counts["seconds"] = round(seconds.get(day, 0.0), 3)
        if files is not None:
            counts |= {"files_read": read.get(day, 0), "files_ignored": ignored.get(day, 0)}
        context.add_asset_metadata(
            {**counts, "dagster/row_count": counts["rows_out"]}, asset_key=asset_key, partition_key=key
        )
