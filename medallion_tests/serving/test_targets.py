"""Each serving target against the real thing: a PostgreSQL server, Delta tables read back with deltalake, the
DuckDB file. Loads, reruns, column changes, bad connections and a loader killed mid-load."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from medallion.logic.serving.tables import DAILY_SUMMARY, predictions_table
from medallion.resources.serving import ServingError, ServingTargets
from medallion.resources.serving.delta_target import DeltaTarget
from medallion.resources.serving.duckdb_target import DuckDBTarget
from medallion.resources.serving.postgres_target import PostgresTarget
from medallion.resources.warehouse import WarehouseLocation
from medallion.settings import Settings, SettingsError
from medallion_tests.conftest import pg_rows

DAY = date(2025, 3, 1)
TABLE = predictions_table("ID")


def predictions(day: date, rows: int, first_id: int = 1, version: str = "1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partition_date": [day] * rows,
            "ID": range(first_id, first_id + rows),
            "probability": [i / rows for i in range(rows)],
            "predicted_label": [int(i * 2 >= rows) for i in range(rows)],
            "model_version": [version] * rows,
            "scored_at": [datetime(2025, 3, 2, 1, 30, tzinfo=UTC)] * rows,
        },
        schema_overrides={"predicted_label": pl.Int8, "ID": pl.Int64},
    )


def pg_table(url: str, where: str = "") -> pl.DataFrame:
    rows = pg_rows(url, f'select partition_date, "ID", probability, model_version from serving.predictions {where}')
    return pl.DataFrame(rows, schema=["partition_date", "ID", "probability", "model_version"], orient="row")


def test_postgres_load_rerun_and_next_day_keep_one_copy_per_key(pg_url):
    target = PostgresTarget(pg_url)
    target.replace(TABLE, predictions(DAY, 100), DAY, DAY)
    target.replace(TABLE, predictions(DAY, 80, version="2"), DAY, DAY)  # rerun of the day: replaced, not appended
    target.replace(TABLE, predictions(DAY + timedelta(days=1), 50), DAY + timedelta(days=1), DAY + timedelta(days=1))
    counts = dict(pg_rows(pg_url, "select partition_date, count(*) from serving.predictions group by 1"))
    assert counts == {DAY: 80, DAY + timedelta(days=1): 50}
    assert pg_rows(
        pg_url, f"select distinct model_version from serving.predictions where partition_date = '{DAY}'"
    ) == [("2",)]
    served = pg_table(pg_url, f"where partition_date = '{DAY}' order by \"ID\"")
    assert served["probability"].to_list() == predictions(DAY, 80)["probability"].to_list()
    scored_at = pg_rows(pg_url, "select scored_at from serving.predictions limit 1")[0][0]
    assert scored_at == datetime(2025, 3, 2, 1, 30, tzinfo=UTC)


def test_postgres_table_has_its_primary_key_and_an_index_on_the_day(pg_url):
    PostgresTarget(pg_url).replace(TABLE, predictions(DAY, 3), DAY, DAY)
    key = pg_rows(
        pg_url,
        "select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = 'serving.predictions'::regclass and i.indisprimary order by a.attname",
    )
    assert [name for (name,) in key] == ["ID", "partition_date"]
    indexes = dict(pg_rows(pg_url, "select indexname, indexdef from pg_indexes where tablename = 'predictions'"))
    assert "(partition_date)" in indexes["predictions_by_day"]


def test_postgres_gains_an_added_column_and_refuses_a_removed_one(pg_url):
    target = PostgresTarget(pg_url)
    target.replace(TABLE, predictions(DAY, 5), DAY, DAY)
    widened = predictions(DAY, 5).with_columns(pl.lit("fs-2").alias("feature_set_version"))
    target.replace(TABLE, widened, DAY, DAY)
    assert pg_rows(pg_url, "select distinct feature_set_version from serving.predictions") == [("fs-2",)]
    with pytest.raises(ServingError, match="feature_set_version"):
        target.replace(TABLE, predictions(DAY, 7), DAY, DAY)
    assert pg_rows(pg_url, "select count(*) from serving.predictions") == [(5,)]  # the day was left as it was


def test_postgres_wrong_password_names_host_and_database_and_never_the_password(pg_url):
    PostgresTarget(pg_url).replace(TABLE, predictions(DAY, 4), DAY, DAY)
    password = pg_url.split(":")[2].split("@")[0]
    wrong = pg_url.replace(f":{password}@", ":not-the-password@")
    with pytest.raises(ServingError) as raised:
        PostgresTarget(wrong).replace(TABLE, predictions(DAY, 9), DAY, DAY)
    message = str(raised.value)
    database = pg_url.rsplit("/", 1)[1]
    assert "127.0.0.1" in message and database in message and "password authentication failed" in message
    assert "not-the-password" not in message and password not in message
    assert pg_rows(pg_url, "select count(*) from serving.predictions") == [(4,)]


def test_postgres_down_is_a_clear_error(free_tcp_port):
    url = f"postgresql://medallion:s3cret@127.0.0.1:{free_tcp_port}/served"
    with pytest.raises(ServingError, match=rf"127\.0\.0\.1:{free_tcp_port}, database 'served'") as raised:
        PostgresTarget(url).replace(TABLE, predictions(DAY, 1), DAY, DAY)
    assert "s3cret" not in str(raised.value)


def test_a_url_that_is_not_postgresql_names_the_setting():
    with pytest.raises(ServingError, match="MEDALLION_PG_URL is not a PostgreSQL URL"):
        PostgresTarget("mysql://u:p@host/db")


LOADER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, date, datetime
    import polars as pl
    from medallion.logic.serving.tables import predictions_table
    from medallion.resources.serving.{module} import {cls}
    from medallion.resources.warehouse import WarehouseLocation
    day, rows = date.fromisoformat(sys.argv[2]), int(sys.argv[3])
    frame = pl.select(
        pl.lit(day).alias("partition_date"),
        pl.int_range(1, rows + 1, dtype=pl.Int64).alias("ID"),
        pl.lit(0.5).alias("probability"),
        pl.lit(1, pl.Int8).alias("predicted_label"),
        pl.lit("killed").alias("model_version"),
        pl.lit(datetime.now(UTC), pl.Datetime("us", "UTC")).alias("scored_at"),
    )
    location = WarehouseLocation(database=sys.argv[1]) if {cls}.name == "duckdb" else sys.argv[1]
    {cls}(location).replace(predictions_table("ID"), frame, day, day)
    """
)


def start_loader(module: str, cls: str, location: str, day: date, rows: int) -> subprocess.Popen:
    script = LOADER.format(module=module, cls=cls)
    return subprocess.Popen([sys.executable, "-c", script, location, day.isoformat(), str(rows)])


def wait_for(condition, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the loader finished before it could be killed mid-load"
        assert time.monotonic() < deadline, "the loader never reached the point to kill it at"
        time.sleep(0.02)


def test_postgres_loader_killed_mid_load_leaves_the_previous_rows(pg_url):
    target = PostgresTarget(pg_url)
    target.replace(TABLE, predictions(DAY, 200), DAY, DAY)
    loader = start_loader("postgres_target", "PostgresTarget", pg_url, DAY, 3_000_000)

    def copying() -> bool:  # the loader's transaction has deleted the day and is streaming the new rows
        return bool(
            pg_rows(pg_url, "select 1 from pg_stat_activity where query ilike 'copy serving.%' and state = 'active'")
        )

    try:
        wait_for(copying, loader)
        assert pg_rows(pg_url, f"select count(*) from serving.predictions where partition_date = '{DAY}'") == [(200,)]
        loader.kill()
    finally:
        loader.kill()
        loader.wait()
    assert loader.returncode == -9
    served = pg_table(pg_url, 'order by "ID"')
    assert served.height == 200
    assert served["model_version"].unique().to_list() == ["1"]
    target.replace(TABLE, predictions(DAY, 150, version="2"), DAY, DAY)  # the rerun gives the clean result
    assert pg_rows(pg_url, "select model_version, count(*) from serving.predictions group by 1") == [("2", 150)]


def test_delta_load_rerun_and_read_back(tmp_path):
    target = DeltaTarget(str(tmp_path / "delta"))
    second = DAY + timedelta(days=1)
    target.replace(TABLE, predictions(DAY, 100), DAY, DAY)
    target.replace(TABLE, predictions(second, 40), second, second)
    target.replace(TABLE, predictions(DAY, 60, version="2"), DAY, DAY)
    table = DeltaTable(str(tmp_path / "delta" / "predictions"))
    assert table.metadata().partition_columns == ["partition_date"]
    served = pl.read_delta(str(tmp_path / "delta" / "predictions"))
    counts = dict(served.group_by("partition_date").len().iter_rows())
    assert counts == {DAY: 60, second: 40}
    assert served.filter(pl.col("partition_date") == DAY)["model_version"].unique().to_list() == ["2"]
    assert served.filter(pl.col("partition_date") == DAY).sort("ID").equals(predictions(DAY, 60, version="2"))


def test_delta_gains_an_added_column_and_refuses_a_removed_one(tmp_path):
    target = DeltaTarget(str(tmp_path / "delta"))
    target.replace(TABLE, predictions(DAY, 5), DAY, DAY)
    target.replace(TABLE, predictions(DAY, 5).with_columns(pl.lit("fs-2").alias("feature_set_version")), DAY, DAY)
    assert pl.read_delta(str(tmp_path / "delta" / "predictions"))["feature_set_version"].unique().to_list() == ["fs-2"]
    with pytest.raises(ServingError, match="feature_set_version"):
        target.replace(TABLE, predictions(DAY, 7), DAY, DAY)
    assert pl.read_delta(str(tmp_path / "delta" / "predictions")).height == 5


def test_delta_writer_killed_mid_write_leaves_the_previous_version(tmp_path):
    root = tmp_path / "delta"
    target = DeltaTarget(str(root))
    target.replace(TABLE, predictions(DAY, 200), DAY, DAY)
    version = DeltaTable(str(root / "predictions")).version()
    loader = start_loader("delta_target", "DeltaTarget", str(root), DAY, 10_000_000)

    def writing() -> bool:  # a data file is being staged (object_store writes `<file>#<n>`, renamed when complete)
        return any("#" in path.name for path in (root / "predictions").rglob("*.parquet*"))

    try:
        wait_for(writing, loader)
        loader.kill()
    finally:
        loader.kill()
        loader.wait()
    table = DeltaTable(str(root / "predictions"))
    assert table.version() == version
    served = pl.read_delta(str(root / "predictions"))
    assert served.height == 200 and served["model_version"].unique().to_list() == ["1"]
    target.replace(TABLE, predictions(DAY, 10, version="2"), DAY, DAY)
    assert pl.read_delta(str(root / "predictions"))["model_version"].to_list() == ["2"] * 10


def test_duckdb_load_rerun_and_summary_table(tmp_path):
    database = str(tmp_path / "warehouse.duckdb")
    target = DuckDBTarget(WarehouseLocation(database=database))
    target.replace(TABLE, predictions(DAY, 100), DAY, DAY)
    target.replace(TABLE, predictions(DAY, 30), DAY, DAY)
    summary = pl.DataFrame({"partition_date": [DAY], "rows": [30]})
    target.replace(DAILY_SUMMARY, summary, DAY, DAY)
    target.replace(DAILY_SUMMARY, summary, DAY, DAY)
    with duckdb.connect(database, read_only=True) as connection:
        assert connection.execute("select count(*) from serving.predictions").fetchone() == (30,)
        assert connection.execute("select * from serving.daily_summary").fetchall() == [(DAY, 30)]


def test_every_target_in_order_reports_rows_seconds_and_a_location_without_the_password(tmp_path, pg_url):
    serving = ServingTargets(
        targets=["duckdb", "postgres", "delta"],
        warehouse=WarehouseLocation(database=str(tmp_path / "warehouse.duckdb")),
        delta_root=str(tmp_path / "delta"),
        pg_url=pg_url,
    )
    loads = serving.replace(TABLE, predictions(DAY, 25), DAY, DAY)
    assert [(load.target, load.rows) for load in loads] == [("duckdb", 25), ("postgres", 25), ("delta", 25)]
    password = pg_url.split(":")[2].split("@")[0]
    assert all(password not in load.location for load in loads)
    assert loads[1].location.endswith("serving.predictions") and "127.0.0.1" in loads[1].location


def test_serving_settings_name_the_setting_and_the_allowed_values(tmp_path):
    with pytest.raises(SettingsError, match=r"unknown target 'kafka'.*duckdb, postgres, delta"):
        Settings.from_env({"MEDALLION_HOME": str(tmp_path), "MEDALLION_SERVING_TARGETS": "duckdb,kafka"})
    with pytest.raises(SettingsError, match="needs MEDALLION_PG_URL, not set"):
        Settings.from_env({"MEDALLION_HOME": str(tmp_path), "MEDALLION_SERVING_TARGETS": "postgres"})
    settings = Settings.from_env(
        {"MEDALLION_HOME": str(tmp_path), "MEDALLION_SERVING_TARGETS": " Delta, duckdb ,delta", "MEDALLION_PG_URL": ""}
    )
    assert settings.serving_targets == ("delta", "duckdb")
    assert settings.delta_root == str(tmp_path.resolve() / "serving" / "delta")
    assert Settings.from_env({"MEDALLION_HOME": str(tmp_path)}).serving_targets == ("duckdb",)


def test_duckdb_loader_killed_mid_insert_leaves_the_previous_rows(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    target = DuckDBTarget(WarehouseLocation(database=str(database)))
    target.replace(TABLE, predictions(DAY, 200), DAY, DAY)
    size_before = database.stat().st_size
    loader = start_loader("duckdb_target", "DuckDBTarget", str(database), DAY, 3_000_000)

    def inserting() -> bool:  # the transaction's new rows are being written into the file (or its WAL)
        wal = database.with_name(database.name + ".wal")
        return database.stat().st_size > size_before + 2_000_000 or (wal.exists() and wal.stat().st_size > 2_000_000)

    try:
        wait_for(inserting, loader)
        loader.kill()
    finally:
        loader.kill()
        loader.wait()
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select model_version, count(*) from serving.predictions group by 1").fetchall() == [
            ("1", 200)
        ]
    target.replace(TABLE, predictions(DAY, 10, version="2"), DAY, DAY)
    assert target.rows_by_day(TABLE, DAY, DAY) == {DAY: 10}


def test_a_datasets_own_serving_schema_keeps_its_tables_apart_in_every_target(pg_url, tmp_path):
    """A second ML dataset serves into `serving_<dataset>`: the shipped `serving` tables are not touched."""
    own = predictions_table("ID", "serving_toy")
    warehouse = WarehouseLocation(database=str(tmp_path / "warehouse.duckdb"))
    targets = [PostgresTarget(pg_url), DeltaTarget(str(tmp_path / "delta")), DuckDBTarget(warehouse)]
    for target in targets:
        target.replace(TABLE, predictions(DAY, 10), DAY, DAY)
        target.replace(own, predictions(DAY, 4, version="7"), DAY, DAY)
        assert target.rows_by_day(TABLE, DAY, DAY) == {DAY: 10} and target.rows_by_day(own, DAY, DAY) == {DAY: 4}
    assert pg_rows(pg_url, "select model_version, count(*) from serving_toy.predictions group by 1") == [("7", 4)]
    assert pl.read_delta(str(tmp_path / "delta" / "serving_toy" / "predictions")).height == 4
    assert pl.read_delta(str(tmp_path / "delta" / "predictions")).height == 10
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from serving_toy.predictions").fetchone() == (4,)
