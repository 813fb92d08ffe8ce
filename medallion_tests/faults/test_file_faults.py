"""Faults of a whole file or day: each on its own home. The run either fails naming file, line and rule, or
accounts for every record; after the fix a rerun equals a clean home's run."""

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.automation.test_landing_sensor import evaluate
from medallion_tests.conftest import DAY1, checks_by_name, table, table_exists
from medallion_tests.faults.conftest import (
    HEADER,
    clean_home,
    day_after,
    feed_rows,
    land_files,
    replace_files,
    row,
    rows,
    run,
    run_etl_process,
    step_failure_message,
    tables,
    text,
    tree_digest,
)

CLEAN = text(HEADER, *rows(range(1, 6)))


@pytest.fixture
def home(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", env="local")


def assert_rerun_after_fix_equals_clean(home: Settings, tmp_path: Path, fixed: dict[str, bytes], day=DAY1) -> None:
    replace_files(home, "applications", day, fixed)
    assert run(home, day).success
    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, day).success
    assert tables(home) == tables(clean)
    assert tables(home)["silver.applications"]


HEADER_FAULTS = {
    "wrong_delimiter": (
        text(HEADER.replace(",", ";"), *(r.replace(",", ";") for r in rows(range(1, 6)))),
        "missing: ID",
    ),
    "renamed_header_column": (text(HEADER.replace(",AGE,", ",AGES,"), *rows(range(1, 6))), "missing: AGE; extra: AGES"),
    "missing_header_column": (
        text(HEADER.replace(",AGE,", ","), *(r.replace(",30,", ",", 1) for r in rows(range(1, 6)))),
        "missing: AGE",
    ),
}


@pytest.mark.parametrize("fault", list(HEADER_FAULTS))
def test_header_fault_blocks_silver_naming_file_and_columns(home, tmp_path, fault):
    content, issue = HEADER_FAULTS[fault]
    land_files(home, "applications", DAY1, {"a.csv": content})
    result = run(home, DAY1)
    check = checks_by_name(result)[("bronze/applications", "header_matches_contract")]
    assert not check.passed and check.severity.value == "ERROR"
    assert issue in check.description and f"{DAY1}/a.csv" in check.description
    assert not result.success and "blocking asset check failed" in step_failure_message(result)
    assert table(home, "bronze.applications").height == 5  # bronze holds every record
    assert not table_exists(home, "silver.applications")  # the blocking check stopped silver
    assert_rerun_after_fix_equals_clean(home, tmp_path, {"a.csv": CLEAN})


def test_non_utf8_file_fails_naming_file_line_and_rule_then_rerun_after_fix(home, tmp_path):
    land_files(home, "applications", DAY1, {"a.csv": CLEAN + row(6, EDUCATION="caf\xe9").encode("latin-1") + b"\n"})
    result = run(home, DAY1)
    assert not result.success
    assert f"{DAY1}/a.csv: line 7" in step_failure_message(result)
    assert "(rule: encoding=utf-8)" in step_failure_message(result)
    assert_rerun_after_fix_equals_clean(home, tmp_path, {"a.csv": CLEAN})


def test_file_that_changes_while_it_is_read_fails_then_rerun_after_the_writer_finished(home, tmp_path, monkeypatch):
    """Deterministic: the real file grows between the reader's read and its second look at the file (Path.read_bytes
    wrapped to append right after reading, as a writer still appending would)."""
    (path,) = land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 4)))})
    original = Path.read_bytes

    def read_while_written(self: Path) -> bytes:
        data = original(self)
        if self == path:
            with open(self, "ab") as writer:
                writer.write(text(row(4), row(5)))
        return data

    monkeypatch.setattr(Path, "read_bytes", read_while_written)
    result = run(home, DAY1)
    monkeypatch.undo()
    assert not result.success
    message = step_failure_message(result)
    assert f"{path}: line 5" in message and "(rule: landed files are never modified)" in message
    assert not table_exists(home, "bronze.applications")
    assert path.read_bytes() == CLEAN  # the writer finished
    assert_rerun_after_fix_equals_clean(home, tmp_path, {"a.csv": CLEAN})


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path sits under a root-only folder)."""
    folder = Path(tempfile.mkdtemp(prefix="medallion-faults-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_file_without_read_permission_fails_naming_file_and_rule(tmp_path, reachable_dir):
    """Root reads a chmod 000 file anyway: as root, the run goes to a process that drops to the postgres user."""
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root (chmod 000 does not stop root's reads) and no postgres user to run as")
        user = "postgres"
        # The process drops to that user after importing; what it imports later must be readable by it too.
        if subprocess.run(["runuser", "-u", user, "--", "test", "-r", __file__], check=False).returncode != 0:
            pytest.skip(f"the {user} user cannot read this checkout (under a root-only folder): nothing can run as it")
    root = reachable_dir
    home = Settings(home=root / "home", env="local")
    (path,) = land_files(home, "applications", DAY1, {"a.csv": CLEAN})
    if user:
        shutil.chown(root, user)
        for item in root.rglob("*"):
            shutil.chown(item, user)
    path.chmod(0)
    child = run_etl_process(home, DAY1, user=user)
    assert not child.success, child.log
    assert f"{path}: line 1: cannot be read: Permission denied (rule: readable)" in child.failure
    path.chmod(0o644)
    assert_rerun_after_fix_equals_clean(home, tmp_path, {"a.csv": CLEAN})


def test_file_for_a_day_outside_the_partitions_is_never_read_nor_requested(home, tmp_path):
    before_start = day_after(DAY1, -1)
    land_files(home, "applications", DAY1, {"a.csv": CLEAN})
    (outside,) = land_files(home, "applications", before_start, {"early.csv": text(HEADER, row(99))})
    defs = build_definitions(home)
    assert [r.partition_key for r in evaluate(defs, home).run_requests] == [DAY1.isoformat()]
    refused = run(home, before_start)
    assert not refused.success and f"{before_start} is before the partitions definition start" in (
        step_failure_message(refused)
    )
    assert run(home, DAY1).success
    assert 99 not in feed_rows(home, "applications", DAY1)[1]["ID"].to_list()
    assert outside.exists()
    # The fix: the file moved to its day inside the partitions; reprocessing that day picks it up.
    shutil.rmtree(outside.parent)
    land_files(home, "applications", DAY1, {"a.csv": CLEAN, "early.csv": text(HEADER, row(99))})
    assert run(home, DAY1).success
    assert 99 in feed_rows(home, "applications", DAY1)[1]["ID"].to_list()
    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, DAY1).success
    assert tables(home) == tables(clean)


def test_late_file_for_a_day_already_processed_is_picked_up_by_reprocessing(home, tmp_path):
    land_files(home, "applications", DAY1, {"a.csv": CLEAN})
    defs = build_definitions(home)
    first_key = evaluate(defs, home).run_requests[0].run_key
    assert run(home, DAY1).success
    land_files(home, "applications", DAY1, {"a.csv": CLEAN, "b_late.csv": text(HEADER, row(5, AGE="41"), row(6))})
    second_key = evaluate(defs, home).run_requests[0].run_key
    assert second_key != first_key  # the landing sensor requests the day again
    assert run(home, DAY1).success
    bronze, silver, quarantine = feed_rows(home, "applications", DAY1)
    assert bronze.height == silver.height + quarantine.height == 7
    assert sorted(silver["ID"].to_list()) == [1, 2, 3, 4, 5, 6]
    assert silver.filter(silver["ID"] == 5)["AGE"].to_list() == [41]  # the late delivery wins
    clean = clean_home(home, tmp_path / "clean")
    assert run(clean, DAY1).success
    assert tables(home) == tables(clean)


def test_a_100_mb_single_line_is_quarantined_in_bounded_memory(home, tmp_path):
    huge = row(3, LIMIT_BAL="9" * 100_000_000)
    landed = land_files(home, "applications", DAY1, {"a.csv": text(HEADER, row(1), row(2), huge, row(4))})
    before = tree_digest(home.landing_dir)
    child = run_etl_process(home, DAY1)
    assert child.success, child.log
    # Kept whole, the line was copied into bronze, the quarantine and its JSON: 3.6 GB peak and 19 s.
    assert child.peak_rss_mb < 2000
    bronze, silver, quarantine = feed_rows(home, "applications", DAY1)
    assert bronze.height == 4 and silver["ID"].to_list() == [1, 2, 4]
    assert quarantine.select("line_number", "reasons").rows() == [(4, ["malformed_line"])]
    assert quarantine["raw_line"][0].endswith(f"... ({len(row(3)) - 5 + 100_000_000} characters)")
    assert tree_digest(home.landing_dir) == before and landed[0].stat().st_size > 100_000_000
    assert_rerun_after_fix_equals_clean(home, tmp_path, {"a.csv": text(HEADER, *rows(range(1, 5)))})
