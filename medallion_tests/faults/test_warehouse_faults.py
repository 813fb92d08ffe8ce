"""The warehouse file and the settings as faults: a damaged DuckDB file fails a run at once (not ~30 s of lock
retries), names the file and the recovery command, which rebuilds bronze, silver and gold from the landing files; a
real lock is still waited for; MEDALLION_HOME on a file and a wrong setting fail the load with one clear line."""

import logging
import os
import random
import subprocess
import sys
from datetime import timedelta

import duckdb
import pytest

from medallion.definitions import build_definitions
from medallion.resources.warehouse import WarehouseLocation
from medallion.resources.warehouse_file import WarehouseFileError
from medallion.settings import PROJECT_DIR, Settings, SettingsError
from medallion.tools.cli import main
from medallion.tools.status import render_status
from medallion_tests.conftest import DAY1
from medallion_tests.faults.conftest import (
    HEADER,
    OUTCOME_HEADER,
    clean_home,
    land_files,
    outcome,
    rows,
    run,
    step_failure_message,
    tables,
    text,
)

DAY2 = DAY1 + timedelta(days=1)
RETRY_WARNING = "held by another process"
BIN = PROJECT_DIR / ".venv" / "bin"


def damage_header(path) -> bytes:
    """Random bytes (seeded) over the first database header block, as a failing disk or a stray write leaves it."""
    with open(path, "r+b") as file:
        file.seek(4096)
        file.write(random.Random(20).randbytes(4096))
    return path.read_bytes()


def bronze(home: Settings) -> dict[str, list[tuple]]:
    """The bronze tables without their ingestion time, with the home's path removed from file names."""
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        found = {}
        for name in ("bronze.applications", "bronze.outcomes"):
            frame = connection.execute(f"select * from {name}").pl().drop("_ingested_at", strict=False)
            found[name] = sorted(repr(r).replace(str(home.home), "<home>") for r in frame.rows())
    return found


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    return folder


def test_a_damaged_warehouse_fails_at_once_names_the_file_and_is_rebuilt_from_landing(
    home, tmp_path, dagster_home, caplog, capsys
):
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 6)))})
    land_files(home, "applications", DAY2, {"b.csv": text(HEADER, *rows(range(6, 9)))})
    land_files(home, "outcomes", DAY2, {"o.csv": text(OUTCOME_HEADER, outcome(1, 1, DAY2, DAY1))})
    assert run(home, DAY1, DAY2).success
    damaged = damage_header(home.warehouse_path)

    caplog.set_level(logging.WARNING, logger="medallion.etl")
    result = run(home, DAY1, DAY2)
    assert not result.success
    message = step_failure_message(result)
    assert f"warehouse {home.warehouse_path} is damaged, not locked" in message
    assert "Corrupt database file" in message
    assert f"medallion rebuild-warehouse --home {home.home}" in message
    assert RETRY_WARNING not in caplog.text  # no lock retries: it failed at once

    status = render_status(home)
    assert "is damaged, not locked" in status and f"medallion rebuild-warehouse --home {home.home}" in status
    assert "try again" not in status

    assert main(["rebuild-warehouse", "--home", str(home.home)]) == 0
    printed = capsys.readouterr().out
    (moved,) = home.home.glob("warehouse.duckdb.corrupt-*")
    assert moved.read_bytes() == damaged  # kept as it was, never deleted
    assert f"moved aside: {moved}" in printed
    assert f"medallion launch etl_job --start {DAY1} --end {DAY2}" in printed
    assert "inference_job" in printed  # the ML tables are not rebuilt from landing: it says how to get them back

    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, DAY1, DAY2).success
    assert tables(home) == tables(clean) and set(tables(home)) >= {"silver.applications", "gold.features"}
    assert bronze(home) == bronze(clean)


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        ("header", "Corrupt database file"),
        ("truncated", "Could not read enough bytes"),
        ("not duckdb", "not a valid DuckDB database file"),
    ],
)
def test_an_unreadable_file_is_not_retried_as_a_lock(tmp_path, caplog, fault, shown):
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create table t as select range as x from range(100000)")
    if fault == "header":
        damage_header(database)
    elif fault == "truncated":
        os.truncate(database, 6000)
    else:
        database.write_text("ID,AGE\n1,30\n")
    caplog.set_level(logging.WARNING, logger="medallion.etl")
    with pytest.raises(WarehouseFileError) as raised:
        WarehouseLocation(database=str(database))._open(attempts=20)
    assert str(database) in str(raised.value) and shown in str(raised.value)
    assert "medallion rebuild-warehouse --home" in str(raised.value)
    assert RETRY_WARNING not in caplog.text


HOLD = "import duckdb, sys; connection = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def test_a_real_lock_is_still_retried_and_reported_as_a_lock(tmp_path, caplog):
    database = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(database)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        caplog.set_level(logging.WARNING, logger="medallion.etl")
        with pytest.raises(duckdb.IOException, match="Could not set lock on file"):
            WarehouseLocation(database=str(database))._open(attempts=3)
        assert caplog.text.count(RETRY_WARNING) == 2
        status = render_status(Settings(home=tmp_path, env="local"))
        assert "try again" in status and "damaged" not in status
        assert main(["rebuild-warehouse", "--home", str(tmp_path)]) == 1  # a held file is never moved aside
        assert database.exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_medallion_home_on_a_file_fails_the_load_naming_the_setting(tmp_path, monkeypatch):
    a_file = tmp_path / "home.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("MEDALLION_HOME", str(a_file))
    with pytest.raises(SettingsError, match=f"^MEDALLION_HOME={a_file} is a file; point it at a folder"):
        build_definitions()
    monkeypatch.setenv("MEDALLION_HOME", str(a_file / "data"))
    with pytest.raises(SettingsError, match=f"^MEDALLION_HOME={a_file / 'data'} is under {a_file}, which is a file"):
        build_definitions()


def test_a_settings_error_is_the_first_thing_dg_launch_prints(tmp_path, dagster_home):
    env = {
        **os.environ,
        "MEDALLION_HOME": str(tmp_path / "home"),
        "MEDALLION_START_DATE": "garbage",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "VIRTUAL_ENV": str(PROJECT_DIR / ".venv"),
    }
    result = subprocess.run(
        [str(BIN / "dg"), "launch", "--job", "etl_job", "--partition", DAY1.isoformat()],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    first_lines = result.stderr.splitlines()[:2]
    wanted = "medallion settings: MEDALLION_START_DATE='garbage' is not a date; use YYYY-MM-DD, e.g. 2025-01-01"
    assert wanted in first_lines, result.stderr[:2000]
