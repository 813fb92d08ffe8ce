"""The metadata every table asset reports: counts, speed, a preview and its column schema."""

from __future__ import annotations

import time

import dagster as dg
import polars as pl

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


def table_metadata(frame: pl.DataFrame, started: float, rows_in: int, rows_rejected: int = 0, **extra) -> dict:
    seconds = max(time.perf_counter() - started, 1e-9)
    return {
        "rows_in": rows_in,
        "rows_out": frame.height,
        "rows_rejected": rows_rejected,
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows_in / seconds, 1),
        "preview": dg.MetadataValue.md(markdown_table(frame)),
        # The keys TableMetadataSet writes (it is not exported in dagster 1.13): the UI shows schema changes from them.
        "dagster/column_schema": column_schema(frame),
        "dagster/row_count": frame.height,
        **extra,
    }
