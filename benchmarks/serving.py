"""Serving loads: a month of predictions into each target, as one ranged run and day by day, beside a bare write
of the same rows (the floor: no key, no index, no replacement) and, for PostgreSQL, pandas `to_sql`."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import polars as pl

FIRST_DAY = date(2025, 1, 1)


def predictions(days: int, rows_per_day: int) -> pl.DataFrame:
    """What `ml/predictions` holds for `days` days: the served columns, with plausible values."""
    rows = days * rows_per_day
    index = pl.int_range(0, rows, dtype=pl.Int64)
    return pl.select(
        (pl.lit(FIRST_DAY) + pl.duration(days=index // rows_per_day)).alias("partition_date"),
        (index + 1).alias("ID"),
        ((index * 7919 % 10_000) / 10_000).alias("probability"),
        ((index * 7919 % 10_000) >= 7_000).cast(pl.Int8).alias("predicted_label"),
        pl.lit("credit_default").alias("model_name"),
        pl.lit("3").alias("model_version"),
        pl.lit("credit-v1").alias("feature_set_version"),
        pl.lit(datetime(2025, 2, 1, 2, tzinfo=UTC), pl.Datetime("us", "UTC")).alias("scored_at"),
        pl.lit(datetime(2025, 2, 1, 2, 5, tzinfo=UTC), pl.Datetime("us", "UTC")).alias("loaded_at"),
    )


def _writer(target: str, location: str):
    from medallion.resources.serving import ServingTargets
    from medallion.resources.warehouse import WarehouseLocation

    warehouse = WarehouseLocation(database=location)
    serving = ServingTargets(targets=[target], warehouse=warehouse, delta_root=location, pg_url=location)
    return serving.writers()[0]


def medallion_load(target: str, location: str, days: int, rows_per_day: int, ranged: bool) -> dict:
    """The project's writer: one replace over the whole range (a ranged run), or one per day (daily runs)."""
    from medallion.logic.serving.tables import predictions_table

    writer, table, frame = _writer(target, location), predictions_table("ID"), predictions(days, rows_per_day)
    last = FIRST_DAY + timedelta(days=days - 1)
    if ranged:
        writer.replace(table, frame, FIRST_DAY, last)
    else:
        for day, part in sorted(frame.partition_by("partition_date", as_dict=True).items()):
            writer.replace(table, part, day[0], day[0])
    served = writer.rows_by_day(table, FIRST_DAY, last)
    return {"rows_served": sum(served.values()), "days_served": len(served)}


def postgres_copy_floor(url: str, days: int, rows_per_day: int) -> dict:
    """One COPY of the same rows into a table with no key and no index: what the server can take at most."""
    import psycopg2

    frame = predictions(days, rows_per_day)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%dT%H:%M:%S%.f%z")
    buffer.seek(0)
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            'create table floor_predictions (partition_date date, "ID" bigint, probability double precision, '
            "predicted_label smallint, model_name text, model_version text, feature_set_version text, "
            "scored_at timestamptz, loaded_at timestamptz)"
        )
        cursor.copy_expert("copy floor_predictions from stdin with (format csv)", buffer)
    connection.close()
    return {}


def postgres_pandas_to_sql(url: str, days: int, rows_per_day: int) -> dict:
    """What many loaders do: pandas `to_sql` through SQLAlchemy, multi-row INSERTs in chunks."""
    import sqlalchemy

    frame = predictions(days, rows_per_day).to_pandas()
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    frame.to_sql("pandas_predictions", engine, if_exists="replace", index=False, method="multi", chunksize=10_000)
    engine.dispose()
    return {}


def delta_append_floor(location: str, days: int, rows_per_day: int) -> dict:
    """One partitioned append of the same rows: a Delta write with no replacement predicate."""
    from deltalake import write_deltalake

    write_deltalake(location, predictions(days, rows_per_day).to_arrow(), partition_by=["partition_date"])
    return {}


def duckdb_insert_floor(database: str, days: int, rows_per_day: int) -> dict:
    """`create table as` from Arrow: no key, no index, no transaction around a delete."""
    import duckdb

    arrow_table = predictions(days, rows_per_day).to_arrow()  # noqa: F841 - referenced by name in the SQL below
    with duckdb.connect(database) as connection:
        connection.execute("create table floor_predictions as select * from arrow_table")
    return {}
