"""A ranged run works through its days in slices: the same tables as one slice, a failure mid-range leaves each day
its previous or its new rows (and a rerun heals), and its peak memory does not grow with its days."""

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from benchmarks.harness import measure
from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import DAY1, LABEL, land, land_outcomes, land_reference_rows, run_etl, table

ROWS_PER_DAY = 120
DAYS = 5
SLICE_ROWS = 250  # about two days of one feed
TABLES = [
    "bronze.applications",
    "bronze.applications_files",
    "bronze.outcomes",
    "silver.applications",
    "silver.outcomes",
    "silver.quarantine",
    "gold.features",
    "gold.labels",
]
RUN_COLUMNS = {"_ingested_at", "_delivered_at"}  # when the run read a file and when it was written: differ per home


def land_days(home: Settings, reference: pl.DataFrame) -> None:
    for i in range(DAYS):
        part = land_reference_rows(home, reference, DAY1 + timedelta(days=i), i * ROWS_PER_DAY, ROWS_PER_DAY)
        if i < DAYS - 2:  # outcomes land two days after their applications
            land_outcomes(home, part, DAY1 + timedelta(days=i + 2))
    bad = reference.slice(9_000, 3).drop(LABEL).with_columns(pl.lit(-5).alias("LIMIT_BAL"))
    land(home, "applications", DAY1 + timedelta(days=1), "bad.csv", bad.write_csv())  # quarantined rows


def comparable(home: Settings, name: str) -> pl.DataFrame:
    """The table without what differs between two homes: run times, file times, the home's folder in file paths."""
    frame = table(home, name)
    frame = frame.drop([column for column in frame.columns if column in RUN_COLUMNS])
    paths = [column for column in ("_source_file", "file", "source_file") if column in frame.columns]
    frame = frame.with_columns(pl.col(paths).str.replace(str(home.home), "", literal=True))
    return frame.sort(frame.columns)


def last_day() -> date:
    return DAY1 + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def sliced_and_whole(tmp_path_factory, reference):
    homes = {}
    for slice_rows in (SLICE_ROWS, 1_000_000):
        home = Settings(home=tmp_path_factory.mktemp(f"slices-{slice_rows}"), slice_rows=slice_rows)
        land_days(home, reference)
        assert run_etl(build_definitions(home), DAY1, last_day()).success
        homes[slice_rows] = home
    return homes


@pytest.mark.parametrize("name", TABLES)
def test_slices_write_the_same_tables_as_one_slice(sliced_and_whole, name):
    sliced, whole = comparable(sliced_and_whole[SLICE_ROWS], name), comparable(sliced_and_whole[1_000_000], name)
    assert sliced.height > 0
    assert sliced.equals(whole)


def first_days_of_writes(home: Settings, name: str) -> list[date]:
    writes = table(home, "meta.partition_writes", f"where table_name = '{name}'")
    by_write = writes.group_by("write_id").agg(pl.col("partition_date").min().alias("first")).sort("first")
    return by_write["first"].to_list()


@pytest.mark.parametrize(
    ("name", "slices_start"),
    [
        # bronze applications: 120, 123, 120, 120, 120 rows a day, at most 250 a slice: days 1-2, 3-4, 5
        ("bronze.applications", [0, 2, 4]),
        # silver reads both feeds (outcomes land from day 3: 240 rows a day from then): days 1-2, 3, 4, 5
        ("silver.quarantine", [0, 2, 3, 4]),
    ],
)
def test_each_slice_of_at_most_slice_rows_is_its_own_commit(sliced_and_whole, name, slices_start):
    assert first_days_of_writes(sliced_and_whole[SLICE_ROWS], name) == [DAY1 + timedelta(days=i) for i in slices_start]
    assert first_days_of_writes(sliced_and_whole[1_000_000], name) == [DAY1]


def test_a_failure_mid_range_leaves_each_day_previous_or_new_and_a_rerun_heals(tmp_path, reference):
    home = Settings(home=tmp_path / "home", slice_rows=SLICE_ROWS)
    land_days(home, reference)
    defs = build_definitions(home)
    assert run_etl(defs, DAY1, last_day()).success
    before = table(home, "bronze.applications").group_by("partition_date").len()
    before = dict(before.iter_rows())
    # Day 1 gets more rows; day 3, in the second slice, a file that cannot be read.
    land_reference_rows(home, reference, DAY1, 5_000, 30, name="late.csv")
    corrupt = land(home, "applications", DAY1 + timedelta(days=2), "broken.csv.gz", b"not gzip at all")

    failed = run_etl(defs, DAY1, last_day())

    assert not failed.success
    after = dict(table(home, "bronze.applications").group_by("partition_date").len().iter_rows())
    assert after[DAY1] == before[DAY1] + 30  # the first slice committed its new rows
    assert {day: after[day] for day in after if day != DAY1} == {day: before[day] for day in before if day != DAY1}
    corrupt.unlink()
    assert run_etl(defs, DAY1, last_day()).success
    clean = Settings(home=tmp_path / "clean", slice_rows=SLICE_ROWS)
    land_days(clean, reference)
    land_reference_rows(clean, reference, DAY1, 5_000, 30, name="late.csv")
    assert run_etl(build_definitions(clean), DAY1, last_day()).success
    for name in TABLES:
        assert comparable(home, name).equals(comparable(clean, name)), name


def ranged_run_peak_mb(home: str, days: int, rows_per_day: int) -> dict:
    """In a fresh process: land `days` days of realistic files, then one ranged etl_job run; its peak RSS."""
    import resource

    from benchmarks.inputs import build_year

    build_year(Path(home), DAY1, days, rows_per_day)
    settings = Settings(home=Path(home), slice_rows=24_000, warehouse_memory="64MB")
    result = run_etl(build_definitions(settings), DAY1, DAY1 + timedelta(days=days - 1))
    return {"success": result.success, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def test_a_ranged_run_peak_memory_does_not_grow_with_its_days(tmp_path):
    """4 days vs 28 days of 8k rows: holding every day of a layer at once (before slices) grew the peak by 278 MB;
    in slices the difference (74 MB) is DuckDB's cache up to its limit (64 MB here) and noise."""
    short = measure(ranged_run_peak_mb, str(tmp_path / "short"), 4, 8_000)
    long = measure(ranged_run_peak_mb, str(tmp_path / "long"), 28, 8_000)
    assert short.get("success") and long.get("success"), (short, long)
    assert long["peak_rss_mb"] - short["peak_rss_mb"] < 150, (short, long)
