"""The DuckLake warehouse against a real PostgreSQL catalog: the IO manager's replace, several writers at once, and
the errors a user meets (wrong password, extension packages missing or of another DuckDB version)."""

from __future__ import annotations

import importlib
import multiprocessing
from datetime import date

import duckdb
import polars as pl
import pytest

from medallion.resources import ducklake
from medallion.resources.ducklake import LakeConnectionError, extension_file
from medallion.resources.warehouse import WarehouseLocation
from medallion.settings import SettingsError


@pytest.fixture
def lake(pg_url, tmp_path) -> WarehouseLocation:
    return WarehouseLocation(
        database=str(tmp_path / "unused.duckdb"), lake_catalog_url=pg_url, lake_data_path=str(tmp_path / "lake")
    )


def replace_days(location: dict, first_day: int, days: int, rows: int) -> None:
    """One writer: replaces `days` days of lake.t, each delete + insert in one transaction."""
    lake = WarehouseLocation(**location)
    with lake.connect() as connection:
        for offset in range(first_day, first_day + days):
            day = date(2025, 1, 1 + offset)
            frame = pl.DataFrame({"partition_date": [day] * rows, "x": range(rows)})  # noqa: F841 - used in the SQL
            connection.execute("begin transaction")
            connection.execute("delete from s.t where partition_date = ?", [day])
            connection.execute("insert into s.t select * from frame")
            connection.execute("commit")


def test_three_processes_replace_partitions_of_one_table_at_once(lake):
    with lake.connect() as connection:
        connection.execute(
            "create schema if not exists s; create table if not exists s.t (partition_date date, x bigint)"
        )
    context = multiprocessing.get_context("spawn")
    location = lake.model_dump()
    writers = [context.Process(target=replace_days, args=(location, 10 * i, 10, 5_000)) for i in range(3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert [writer.exitcode for writer in writers] == [0, 0, 0]
    with lake.connect() as connection:
        counts = connection.execute("select count(distinct partition_date), count(*) from s.t").fetchone()
    assert counts == (30, 150_000)


def test_a_wrong_catalog_password_names_host_and_database_and_never_the_password(pg_url, tmp_path):
    password = pg_url.split(":")[2].split("@")[0]
    wrong = WarehouseLocation(
        database="unused", lake_catalog_url=pg_url.replace(f":{password}@", ":not-it@"), lake_data_path=str(tmp_path)
    )
    with pytest.raises(LakeConnectionError) as raised:
        with wrong.connect():
            pass
    message = str(raised.value)
    assert "127.0.0.1" in message and pg_url.rsplit("/", 1)[1] in message and "MEDALLION_LAKE_CATALOG_URL" in message
    assert "not-it" not in message and password not in message


def test_extension_packages_of_another_duckdb_version_say_what_to_install(monkeypatch):
    assert extension_file("ducklake").exists()
    monkeypatch.setattr(duckdb, "__version__", "9.9.9")
    with pytest.raises(SettingsError, match=r"pip install duckdb-extension-ducklake==9\.9\.9"):
        extension_file("ducklake")


def test_a_missing_extension_package_says_what_to_install(monkeypatch):
    real_import = importlib.import_module

    def without_package(name, *args):
        if name == "duckdb_extension_postgres_scanner":
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(ducklake.importlib, "import_module", without_package)
    with pytest.raises(SettingsError, match=rf"pip install duckdb-extension-postgres-scanner=={duckdb.__version__}"):
        extension_file("postgres_scanner")
