"""Faults that cost no run its success: each lands on its own day of one ranged run; every landed record ends up in
silver or in the quarantine with its reason, and after the fix a rerun equals a clean home's run."""

import polars as pl
import pytest

from medallion.settings import Settings
from medallion_tests.conftest import DAY1, checks_by_name
from medallion_tests.faults.conftest import (
    HEADER,
    OUTCOME_HEADER,
    Fault,
    clean_home,
    day_after,
    feed_rows,
    land_files,
    outcome,
    reasons_by_line,
    replace_files,
    row,
    rows,
    run,
    tables,
    text,
    tree_digest,
)

CLEAN = text(HEADER, *rows(range(1, 4)))
OUTCOMES = text(OUTCOME_HEADER, outcome(1, 1, DAY1, DAY1), outcome(2, 0, DAY1, DAY1))
BOM = b"\xef\xbb\xbf"

FAULTS = [
    Fault(
        "malformed_quoting",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, LIMIT_BAL='"5000"0'), row(3))},
        {"a.csv": CLEAN},
        records=3,
        quarantined={("a.csv", 3): ["malformed_line"]},
    ),
    Fault(
        "unterminated_quote_at_eof",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, LIMIT_BAL='"50000'), row(3), row(4))},
        {"a.csv": text(HEADER, *rows(range(1, 5)))},
        records=4,
        quarantined={("a.csv", 3): ["malformed_line"]},
    ),
    Fault(
        "truncated_last_line",
        "applications",
        {"a.csv": text(HEADER, *rows(range(1, 4)), row(4)[:15], end="")},
        {"a.csv": text(HEADER, *rows(range(1, 5)))},
        records=4,
        quarantined={("a.csv", 5): ["malformed_line"]},
    ),
    Fault(
        "extra_header_column",
        "applications",
        {"a.csv": text(HEADER + ",NOTE", row(1) + ",x", row(2) + ",y", row(3) + ",z")},
        {"a.csv": CLEAN},
        records=3,
    ),
    Fault(
        "type_errors",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, AGE="abc"), row(3, LIMIT_BAL="1e5"), row(4, PAY_0="1.5"))},
        {"a.csv": text(HEADER, *rows(range(1, 5)))},
        records=4,
        quarantined={
            ("a.csv", 3): ["invalid_type:AGE"],
            ("a.csv", 4): ["invalid_type:LIMIT_BAL"],
            ("a.csv", 5): ["invalid_type:PAY_0"],
        },
    ),
    Fault(
        "out_of_range_values",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, AGE="250"), row(3, PAY_0="-3"), row(4, LIMIT_BAL="0"))},
        {"a.csv": text(HEADER, *rows(range(1, 5)))},
        records=4,
        quarantined={
            ("a.csv", 3): ["out_of_range:AGE"],
            ("a.csv", 4): ["out_of_range:PAY_0"],
            ("a.csv", 5): ["out_of_range:LIMIT_BAL"],
        },
    ),
    Fault(
        "disallowed_values",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, SEX="7"), row(3, MARRIAGE="9"))},
        {"a.csv": CLEAN},
        records=3,
        quarantined={("a.csv", 3): ["not_allowed:SEX"], ("a.csv", 4): ["not_allowed:MARRIAGE"]},
    ),
    Fault(
        "all_null_column",
        "applications",
        {"a.csv": text(HEADER, *(row(i, AGE="") for i in range(1, 4)))},
        {"a.csv": CLEAN},
        records=3,
        quarantined={("a.csv", line): ["missing:AGE"] for line in (2, 3, 4)},
    ),
    Fault(
        "duplicate_rows_in_one_file",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2), row(2), row(3))},
        {"a.csv": CLEAN},
        records=4,
        quarantined={("a.csv", 3): ["duplicate_row"]},  # the last line of a key wins
    ),
    Fault(
        "same_file_delivered_twice",
        "applications",
        {"a.csv": CLEAN, "a_copy.csv": CLEAN},
        {"a_copy.csv": CLEAN},
        records=6,
        quarantined={("a.csv", line): ["duplicate_row"] for line in (2, 3, 4)},  # the later delivery wins
    ),
    Fault(
        "two_files_for_one_day_with_overlapping_keys",
        "applications",
        {"a.csv": CLEAN, "b.csv": text(HEADER, row(3, LIMIT_BAL="60000"), row(4))},
        {"a.csv": CLEAN, "b.csv": text(HEADER, row(3, LIMIT_BAL="60000"), row(4))},  # a correction: nothing to fix
        records=5,
        quarantined={("a.csv", 4): ["superseded"]},
    ),
    Fault(
        "empty_file",
        "applications",
        {"a.csv": CLEAN, "b_empty.csv": b""},
        {"a.csv": CLEAN},
        records=3,
    ),
    Fault(
        "header_only_file",
        "applications",
        {"a.csv": CLEAN, "b_header.csv": text(HEADER)},
        {"a.csv": CLEAN},
        records=3,
    ),
    Fault("bom", "applications", {"a.csv": BOM + CLEAN}, {"a.csv": CLEAN}, records=3),
    Fault(
        "crlf",
        "applications",
        {"a.csv": text(HEADER, row(1), row(2, LIMIT_BAL='"50000"'), row(3)).replace(b"\n", b"\r\n")},
        {"a.csv": text(HEADER, row(1), row(2, LIMIT_BAL='"50000"'), row(3))},
        records=3,
    ),
    Fault(
        "outcomes_for_unknown_applications",
        "outcomes",
        {
            "o.csv": text(
                OUTCOME_HEADER, outcome(1, 1, DAY1, DAY1), outcome(998, 0, DAY1, DAY1), outcome(999, 1, DAY1, DAY1)
            )
        },
        {"o.csv": text(OUTCOME_HEADER, outcome(1, 1, DAY1, DAY1))},
        records=3,
    ),
    Fault(
        "outcome_delivered_twice",
        "outcomes",
        {"o.csv": OUTCOMES, "o_again.csv": OUTCOMES},
        {"o.csv": OUTCOMES},
        records=4,
        quarantined={("o.csv", 2): ["duplicate_row"], ("o.csv", 3): ["duplicate_row"]},
    ),
]
DAYS = {fault.name: day_after(DAY1, i + 1) for i, fault in enumerate(FAULTS)}
LAST = day_after(DAY1, len(FAULTS))


def dated(fault: Fault, files: dict[str, bytes], day) -> dict[str, bytes]:
    """Outcome files name their landing day as outcome_date; the faults are written for DAY1."""
    if fault.feed != "outcomes":
        return files
    return {
        name: content.replace(b"," + DAY1.isoformat().encode() + b",", f",{day.isoformat()},".encode())
        for name, content in files.items()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The faulty run, the rerun after every fix, and a clean home's run, each over DAY1 (clean applications that
    the outcomes resolve) and one day per fault."""
    home = Settings(home=tmp_path_factory.mktemp("faulty"), env="local")
    land_files(home, "applications", DAY1, {"base.csv": text(HEADER, *rows(range(1, 21)))})
    for fault in FAULTS:
        land_files(home, fault.feed, DAYS[fault.name], dated(fault, fault.files, DAYS[fault.name]))
    landed = tree_digest(home.landing_dir)
    faulty = run(home, DAY1, LAST)
    assert tree_digest(home.landing_dir) == landed  # a run never modifies a landed file
    seen = {fault.name: feed_rows(home, fault.feed, DAYS[fault.name]) for fault in FAULTS}
    faulty_tables = tables(home)
    for fault in FAULTS:
        replace_files(home, fault.feed, DAYS[fault.name], dated(fault, fault.fixed, DAYS[fault.name]))
    rerun = run(home, DAY1, LAST)
    clean = clean_home(home, tmp_path_factory.mktemp("clean"))
    clean_run = run(clean, DAY1, LAST)
    assert faulty.success and rerun.success and clean_run.success
    return {
        "home": home,
        "faulty": faulty,
        "seen": seen,
        "faulty_tables": faulty_tables,
        "rerun": tables(home),
        "clean": tables(clean),
    }


def rows_of_day(snapshot: dict[str, list[tuple]], day) -> dict[str, list[tuple]]:
    return {name: [r for r in found if day in r] for name, found in snapshot.items()}


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_fault_rows_are_accounted_for_and_a_rerun_after_the_fix_equals_a_clean_run(runs, fault):
    bronze, silver, quarantine = runs["seen"][fault.name]
    assert bronze.height == fault.records
    assert silver.height + quarantine.height == fault.records
    assert reasons_by_line(quarantine) == fault.quarantined
    day = DAYS[fault.name]
    assert rows_of_day(runs["rerun"], day) == rows_of_day(runs["clean"], day)
    assert any(rows_of_day(runs["clean"], day).values())


def test_malformed_quoting_is_not_read_as_a_number(runs):
    quarantine = runs["seen"]["malformed_quoting"][2]
    assert quarantine["raw_line"].to_list() == [row(2, LIMIT_BAL='"5000"0')]
    assert runs["seen"]["malformed_quoting"][1]["ID"].to_list() == [1, 3]


def test_an_unterminated_quote_swallows_no_following_line(runs):
    _, silver, quarantine = runs["seen"]["unterminated_quote_at_eof"]
    assert silver["ID"].to_list() == [1, 3, 4]
    assert quarantine["raw_line"].to_list() == [row(2, LIMIT_BAL='"50000')]


def test_crlf_and_bom_leave_no_trace_in_values(runs):
    for name in ("crlf", "bom"):
        silver = runs["seen"][name][1]
        assert silver["ID"].to_list() == [1, 2, 3] and silver["LIMIT_BAL"].to_list() == [50000] * 3


def test_extra_header_column_is_a_warning_naming_the_file(runs):
    check = checks_by_name(runs["faulty"])[("bronze/applications", "header_matches_contract")]
    assert not check.passed and check.severity.value == "WARN"
    assert "extra: NOTE" in check.description and f"{DAYS['extra_header_column']}/a.csv" in check.description


def labels_of(snapshot: dict[str, list[tuple]], day) -> pl.DataFrame:
    return pl.DataFrame([r for r in snapshot["gold.labels"] if day in r], orient="row")


def test_outcomes_of_unknown_applications_give_no_label_and_are_counted(runs):
    day = DAYS["outcomes_for_unknown_applications"]
    assert sorted(runs["seen"]["outcomes_for_unknown_applications"][1]["ID"].to_list()) == [1, 998, 999]
    assert labels_of(runs["faulty_tables"], day).height == 1
    labels = next(
        m for m in runs["faulty"].get_asset_materialization_events() if m.asset_key.path == ["gold", "labels"]
    )
    assert labels.materialization.metadata["unmatched_outcomes"].value == 2  # the run's only unmatched outcomes


def test_an_outcome_delivered_twice_gives_one_label_each(runs):
    assert labels_of(runs["faulty_tables"], DAYS["outcome_delivered_twice"]).height == 2
