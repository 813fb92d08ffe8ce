"""The warehouse IO manager under a kill -9 mid-insert, and two runs of the same day at once."""

import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import polars as pl

from medallion.definitions import build_definitions
from medallion.settings import PROJECT_DIR, Settings
from medallion_tests.conftest import DAY1
from medallion_tests.faults.conftest import (
    HEADER,
    clean_home,
    finish_etl_process,
    land_files,
    row,
    run,
    start_etl_process,
    tables,
    text,
    tree_digest,
)

COPIES = 50_000  # silver rows per landed row for the big partition: 20 x 50,000 = 1,000,000 feature rows

AMOUNTS = [f"{kind}{i}" for kind in ("BILL_AMT", "PAY_AMT") for i in range(1, 7)]
# Random amounts, so the features do not compress to nothing and the insert takes long enough to be caught.
GROW_SILVER = (
    "insert into silver.applications select applications.* replace (ID + 100 * copy as ID, "
    + ", ".join(f"(random() * 100000)::bigint as {c}" for c in AMOUNTS)
    + f") from silver.applications, range(1, {COPIES}) copies(copy) where partition_date = '{DAY1}'"
)

MATERIALIZE_FEATURES = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import dagster as dg
    from medallion.definitions import build_definitions
    from medallion.settings import Settings
    defs = build_definitions(Settings(home=Path(sys.argv[1]), env="local"))
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        partition_key=sys.argv[2], asset_selection=[dg.AssetKey(["gold", "features"])]
    )
    print("done", result.success)
    """
)


def features_of_day(home: Settings) -> pl.DataFrame:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        return connection.execute(f"select * from gold.features where partition_date = '{DAY1}' order by ID").pl()


def test_materialization_killed_mid_insert_leaves_the_previous_rows_then_a_rerun_gives_the_clean_result(tmp_path):
    home = Settings(home=tmp_path / "home", env="local")
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *(row(i, AGE=str(20 + i)) for i in range(1, 21)))})
    assert run(home, DAY1).success
    previous = features_of_day(home)
    assert previous.height == 20
    with duckdb.connect(str(home.warehouse_path)) as connection:  # the day's silver grows to 2M rows
        connection.execute(GROW_SILVER)
    database = home.warehouse_path
    wal = database.with_name(database.name + ".wal")
    size_before = database.stat().st_size
    writer = subprocess.Popen(
        [sys.executable, "-c", MATERIALIZE_FEATURES, str(home.home), DAY1.isoformat()],
        cwd=PROJECT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def inserting() -> bool:  # the step's transaction is writing the new rows into the file (or its WAL)
        return database.stat().st_size > size_before + 20_000_000 or (wal.exists() and wal.stat().st_size > 20_000_000)

    try:
        deadline = time.monotonic() + 120
        while not inserting():
            assert writer.poll() is None, "the writer finished before it could be killed mid-insert"
            assert time.monotonic() < deadline, "the writer never started inserting"
            time.sleep(0.01)
        writer.kill()
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -9
    assert features_of_day(home).equals(previous)  # readers see the day as it was, not an empty or half day
    assert rerun_features(home) == 20 * COPIES


def rerun_features(home: Settings) -> int:
    """The features step rerun in this process; checks gold holds one row per silver row of the day."""
    result = (
        build_definitions(home)
        .resolve_implicit_global_asset_job_def()
        .execute_in_process(partition_key=DAY1.isoformat(), asset_selection=[dg.AssetKey(["gold", "features"])])
    )
    assert result.success
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        counts = connection.execute(
            f"select count(*), count(distinct ID) from gold.features where partition_date = '{DAY1}'"
        ).fetchone()
        silver = connection.execute(
            f"select count(*) from silver.applications where partition_date = '{DAY1}'"
        ).fetchone()
    assert counts[0] == counts[1] == silver[0]
    return counts[0]


def test_two_runs_of_the_same_day_at_once_give_one_correct_copy(tmp_path):
    home = Settings(home=tmp_path / "home", env="local")
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *(row(i) for i in range(1, 2001)))})
    landed = tree_digest(home.landing_dir)
    with open(tmp_path / "first.log", "wb") as first_log, open(tmp_path / "second.log", "wb") as second_log:
        first = start_etl_process(home, DAY1, log=first_log)
        second = start_etl_process(home, DAY1, log=second_log)
        results = [finish_etl_process(first), finish_etl_process(second)]
    assert all(r.success for r in results), [r.failure for r in results]
    assert tree_digest(home.landing_dir) == landed  # neither run modified a landed file
    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, DAY1).success
    assert tables(home) == tables(clean)
    assert len(tables(home)["silver.applications"]) == 2000
