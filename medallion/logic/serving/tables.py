"""What is served to applications: each table's name, primary key and partition column, and the daily summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

PARTITION_COLUMN = "partition_date"


SERVING_SCHEMA = "serving"


@dataclass(frozen=True)
class ServedTable:
    name: str
    primary_key: tuple[str, ...]
    partition_column: str = PARTITION_COLUMN
    schema: str = SERVING_SCHEMA

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def path(self) -> str:
        """Where a file-based target keeps it: the shipped `serving` schema's tables at the top, others in a folder."""
        return self.name if self.schema == SERVING_SCHEMA else f"{self.schema}/{self.name}"


def predictions_table(key: str, schema: str = SERVING_SCHEMA) -> ServedTable:
    return ServedTable("predictions", primary_key=(key, PARTITION_COLUMN), schema=schema)


def daily_summary_table(schema: str = SERVING_SCHEMA) -> ServedTable:
    return ServedTable("daily_summary", primary_key=(PARTITION_COLUMN,), schema=schema)


DAILY_SUMMARY = daily_summary_table()


def served_predictions(predictions: pl.DataFrame, loaded_at: datetime) -> pl.DataFrame:
    return predictions.with_columns(pl.lit(loaded_at, pl.Datetime("us", "UTC")).alias("loaded_at"))


def daily_summary(predictions: pl.DataFrame, days: list[date], loaded_at: datetime) -> pl.DataFrame:
    """One row per day of the run, quiet days included (rows = 0): what was scored, by which model version."""
    per_day = predictions.group_by(PARTITION_COLUMN).agg(
        pl.len().cast(pl.Int64).alias("rows"),
        pl.col("probability").mean().alias("mean_probability"),
        pl.col("predicted_label").cast(pl.Float64).mean().alias("predicted_positive_rate"),
        pl.col("model_name").unique().sort().str.join(",").alias("model_name"),
        pl.col("model_version").unique().sort().str.join(",").alias("model_version"),
        pl.col("scored_at").max().alias("scored_at"),
    )
    calendar = pl.DataFrame({PARTITION_COLUMN: days}, schema={PARTITION_COLUMN: pl.Date})
    return (
        calendar.join(per_day, on=PARTITION_COLUMN, how="left")
        .with_columns(
            pl.col("rows").fill_null(0),
            pl.col("model_name").cast(pl.String),
            pl.col("model_version").cast(pl.String),
            pl.col("scored_at").cast(pl.Datetime("us", "UTC")),
            pl.lit(loaded_at, pl.Datetime("us", "UTC")).alias("loaded_at"),
        )
        .sort(PARTITION_COLUMN)
    )


def rows_per_day(frame: pl.DataFrame, days: list[date]) -> dict[date, int]:
    counted = dict(frame.group_by(PARTITION_COLUMN).len().iter_rows()) if frame.height else {}
    return {day: counted.get(day, 0) for day in days}


def served_mismatches(expected: dict[date, int], served: dict[str, dict[date, int]]) -> dict[str, str]:
    """Per target, the days whose served row count differs from what was loaded ("2025-03-01: 10 ≠ 12; ...")."""
    mismatches = {}
    for target, counts in served.items():
        wrong = [
            f"{day}: {counts.get(day, 0)} ≠ {rows}" for day, rows in expected.items() if counts.get(day, 0) != rows
        ]
        if wrong:
            mismatches[target] = "; ".join(wrong)
    return mismatches
