"""Every file under a day folder is read, ignored by the stated rule, or fails the step naming it: compressed files,
any case of extension and sub-folders are read; hidden and in-progress files are ignored and named; a file that
lands after bronze read its day fails rows_conserved naming it."""

import bz2
import gzip
import lzma

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion.sources.landing import landed_days, scan_day
from medallion_tests.automation.test_landing_sensor import evaluate
from medallion_tests.conftest import DAY1, checks_by_day, table, table_exists
from medallion_tests.faults.conftest import HEADER, land_files, rows, run, step_failure_message, text

# Each file its own ids, so every record that reaches silver says which file it came from.
READ = {
    "part.csv.gz": gzip.compress(text(HEADER, *rows(range(1, 4)))),
    "PART.CSV": text(HEADER, *rows(range(11, 14))),
    "sub/part.csv": text(HEADER, *rows(range(21, 24))),
    "more.Csv.BZ2": bz2.compress(text(HEADER, *rows(range(31, 34)))),
    "deep/er/more.csv.xz": lzma.compress(text(HEADER, *rows(range(41, 44)))),
}
IGNORED = {
    ".part.csv.swp": text(HEADER, *rows(range(51, 54))),
    "upload.csv.part": text(HEADER, *rows(range(61, 64))),
    ".incoming/next.csv": text(HEADER, *rows(range(71, 74))),
}


@pytest.fixture
def home(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", env="local")


def ids_in(home: Settings, name: str) -> list[int]:
    return sorted(table(home, name, f"where partition_date = '{DAY1}'")["ID"].to_list())


def test_compressed_upper_case_and_nested_files_are_read_and_hidden_ones_named(home):
    land_files(home, "applications", DAY1, {**READ, **IGNORED})
    result = run(home, DAY1)
    assert result.success
    expected = [i for start in (1, 11, 21, 31, 41) for i in range(start, start + 3)]
    assert ids_in(home, "silver.applications") == expected  # 15 of 15 records, none from the ignored files

    manifest = table(home, "bronze.applications_files").sort("file")
    by_name = {row["file"].split(f"{DAY1}/", 1)[1]: row for row in manifest.iter_rows(named=True)}
    assert {name: row["status"] for name, row in by_name.items()} == {
        **dict.fromkeys(READ, "read"),
        **dict.fromkeys(IGNORED, "ignored"),
    }
    assert all(by_name[name]["records"] == 3 for name in READ)
    assert (
        "hidden" in by_name[".part.csv.swp"]["reason"] and "still being written" in by_name["upload.csv.part"]["reason"]
    )

    conserved = checks_by_day(result)[("silver/applications", "rows_conserved")][DAY1.isoformat()]
    assert conserved.passed
    counts = {k: conserved.metadata[k].value for k in ("files_seen", "files_read", "files_ignored", "files_refused")}
    assert counts == {"files_seen": 8, "files_read": 5, "files_ignored": 3, "files_refused": 0}
    materialization = next(
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key.path[0] == "bronze"
    )
    assert set(materialization.metadata["ignored_files"].value) == {
        str(home.landing_dir / "applications" / DAY1.isoformat() / name) for name in IGNORED
    }


def test_a_file_the_pipeline_does_not_read_fails_the_step_naming_it_and_writes_nothing(home):
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 4))), "notes.txt": b"hello\n"})
    land_files(home, "applications", DAY1, {"sub/export.zip": b"PK\x03\x04"})
    result = run(home, DAY1)
    assert not result.success
    message = step_failure_message(result)
    assert "2 landed file(s) are not files the pipeline reads" in message
    assert f"{DAY1}/notes.txt" in message and f"{DAY1}/sub/export.zip" in message and "Rule: read: .csv" in message
    assert not table_exists(home, "bronze.applications")


def test_a_corrupt_compressed_file_fails_naming_file_and_compression(home):
    land_files(home, "applications", DAY1, {"a.csv.gz": gzip.compress(text(HEADER, *rows(range(1, 4))))[:-8]})
    result = run(home, DAY1)
    assert not result.success
    assert f"{DAY1}/a.csv.gz: line 1: cannot be decompressed" in step_failure_message(result)
    assert "rule: compression=gz" in step_failure_message(result)


def test_a_file_landed_after_bronze_read_the_day_fails_rows_conserved_naming_it(home):
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 4)))})
    defs = build_definitions(home)
    tags = {"dagster/asset_partition_range_start": str(DAY1), "dagster/asset_partition_range_end": str(DAY1)}
    job = defs.resolve_implicit_global_asset_job_def()
    bronze = dg.AssetSelection.groups("bronze")
    assert job.execute_in_process(asset_selection=list(bronze.resolve(defs.resolve_asset_graph())), tags=tags).success
    late = land_files(home, "applications", DAY1, {"late/b.csv.gz": gzip.compress(text(HEADER, *rows(range(4, 6))))})

    silver = dg.AssetSelection.groups("silver")
    result = job.execute_in_process(
        asset_selection=list(silver.resolve(defs.resolve_asset_graph())), tags=tags, raise_on_error=False
    )
    conserved = checks_by_day(result)[("silver/applications", "rows_conserved")][DAY1.isoformat()]
    assert not conserved.passed
    assert "1 landed file(s) not read by bronze" in conserved.description and str(late[0]) in conserved.description
    assert conserved.metadata["files_seen"].value == 2 and conserved.metadata["files_read"].value == 1

    assert run(home, DAY1).success  # the rerun reads the late file too
    assert ids_in(home, "silver.applications") == [1, 2, 3, 4, 5]


def test_the_landing_sensor_sees_days_whose_only_files_are_compressed_nested_or_upper_case(home):
    for offset, name in enumerate(["a.csv.gz", "sub/b.csv", "C.CSV"]):
        day = DAY1.replace(day=2 + offset)
        land_files(home, "applications", day, {name: text(HEADER, *rows(range(1, 3)))})
    land_files(home, "applications", DAY1, {".hidden.csv": text(HEADER, *rows(range(1, 3)))})
    assert [d.day for d in landed_days(home.landing_dir, "applications")] == [2, 3, 4]
    assert scan_day(home.landing_dir, "applications", DAY1).ignored  # seen and named, not a landed day
    requested = sorted(r.partition_key for r in evaluate(build_definitions(home), home).run_requests)
    assert requested == ["2025-01-02", "2025-01-03", "2025-01-04"]
