"""Each kind of bad input either lands in the quarantine with a reason or fails its step naming file, line and rule."""

import hashlib
from datetime import timedelta

import polars as pl
import pytest

from medallion.components import project_datasets
from medallion.definitions import build_definitions
from medallion.logic.etl.ingestion import split_fields
from medallion.settings import Settings
from medallion_tests.conftest import DAY1, checks_by_name, land, run_etl, table, table_exists

HEADER = (
    "ID,LIMIT_BAL,SEX,EDUCATION,MARRIAGE,AGE,PAY_0,PAY_2,PAY_3,PAY_4,PAY_5,PAY_6,"
    "BILL_AMT1,BILL_AMT2,BILL_AMT3,BILL_AMT4,BILL_AMT5,BILL_AMT6,"
    "PAY_AMT1,PAY_AMT2,PAY_AMT3,PAY_AMT4,PAY_AMT5,PAY_AMT6"
)


def row(id_: int, age: str = "30", sex: str = "2", limit: str = "50000") -> str:
    return f"{id_},{limit},{sex},2,1,{age},0,0,0,0,0,0,1000,900,800,700,600,500,100,100,100,100,100,100"


def tree_digest(folder) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def messy_day(tmp_path_factory):
    home = Settings(home=tmp_path_factory.mktemp("home"), env="local")
    lines = [
        HEADER,
        row(1),
        row(2, age="abc"),  # wrong type
        row(3, age="250"),  # out of range
        row(4, sex="7"),  # not an allowed value
        "5,60000,2,2",  # malformed: too few fields
        row(6),
        row(6),  # the same row twice
        row(7, limit="10000"),
        row(7, limit="20000"),  # same key, later line wins
        row(8, age=""),  # required value missing
    ]
    land(home, "applications", DAY1, "a_first.csv", "\n".join(lines) + "\n")
    land(home, "applications", DAY1, "b_again.csv", "\n".join([HEADER, row(1), row(9)]) + "\n")  # row 1 delivered again
    land(home, "applications", DAY1, "c_extra.csv", HEADER + ",NOTE\n" + row(10) + ",hello\n")  # extra column
    land(home, "applications", DAY1, "d_empty.csv", "")  # an empty file
    before = tree_digest(home.landing_dir)
    result = run_etl(build_definitions(home), DAY1)
    return home, result, before


def quarantined(home) -> dict[int, list[str]]:
    frame = table(home, "silver.quarantine").with_columns(pl.col("raw_values").str.json_path_match("$.ID").alias("id"))
    return {
        (int(i) if i else None, line): reasons
        for i, line, reasons in frame.select("id", "line_number", "reasons").iter_rows()
    }


def test_messy_day_run_succeeds_and_conserves_rows(messy_day):
    home, result, _ = messy_day
    assert result.success
    bronze = table(home, "bronze.applications")
    silver = table(home, "silver.applications")
    assert bronze.height == 13  # 10 + 2 + 1 data lines; the empty file adds none
    assert bronze.height == silver.height + table(home, "silver.quarantine").height
    assert checks_by_name(result)[("silver/applications", "rows_conserved")].passed
    assert sorted(silver["ID"].to_list()) == [1, 6, 7, 9, 10]


def test_wrong_type_out_of_range_not_allowed_and_missing_are_quarantined_with_reasons(messy_day):
    reasons = quarantined(messy_day[0])
    assert reasons[(2, 3)] == ["invalid_type:AGE"]
    assert reasons[(3, 4)] == ["out_of_range:AGE"]
    assert reasons[(4, 5)] == ["not_allowed:SEX"]
    assert reasons[(8, 11)] == ["missing:AGE"]


def test_malformed_line_is_quarantined_whole(messy_day):
    home = messy_day[0]
    rows = table(home, "silver.quarantine", "where reason = 'malformed_line'")
    assert rows.height == 1
    assert rows["line_number"][0] == 6
    assert rows["raw_line"][0] == "5,60000,2,2"
    assert rows["source_file"][0].endswith("a_first.csv")


def test_duplicates_keep_the_latest_delivery(messy_day):
    home = messy_day[0]
    reasons = quarantined(home)
    assert reasons[(6, 7)] == ["duplicate_row"]
    assert reasons[(7, 9)] == ["superseded"]
    assert reasons[(1, 2)] == ["duplicate_row"]  # the same row delivered again in a later file
    silver = table(home, "silver.applications")
    assert silver.filter(pl.col("ID") == 7)["LIMIT_BAL"].to_list() == [20000]
    assert silver.filter(pl.col("ID") == 1)["_source_file"][0].endswith("b_again.csv")


def home_contract_columns() -> list[str]:
    return project_datasets()["credit_default"].loaded_contract.entity.column_names


def test_extra_column_warns_and_keeps_its_values(messy_day):
    home, result, _ = messy_day
    check = checks_by_name(result)[("bronze/applications", "header_matches_contract")]
    assert not check.passed and check.severity.value == "WARN"
    assert "extra: NOTE" in check.description
    bronze = table(home, "bronze.applications", "where _source_file like '%c_extra.csv'")
    assert bronze["_raw_line"].str.ends_with(",hello").to_list() == [True]  # the record, extra value included
    values = split_fields(bronze, home_contract_columns())
    assert values["_extra_values"].to_list() == ['{"NOTE":"hello"}']


def test_quarantine_rate_check_warns(messy_day):
    check = checks_by_name(messy_day[1])[("silver/applications", "quarantine_rate")]
    assert not check.passed and check.severity.value == "WARN"


def test_landing_files_are_never_modified(messy_day):
    home, _, before = messy_day
    assert tree_digest(home.landing_dir) == before


def test_missing_header_column_blocks_silver_and_names_the_column(home):
    header = HEADER.replace(",AGE", "")
    land(home, "applications", DAY1, "no_age.csv", header + "\n" + row(1).replace(",30,", ",", 1) + "\n")
    result = run_etl(build_definitions(home), DAY1)
    check = checks_by_name(result)[("bronze/applications", "header_matches_contract")]
    assert not check.passed and check.severity.value == "ERROR"
    assert "missing: AGE" in check.description and "no_age.csv" in check.description
    assert not table_exists(home, "silver.applications")
    assert not table_exists(home, "gold.features")


def test_non_utf8_file_fails_the_step_naming_file_line_and_rule(home):
    path = land(
        home,
        "applications",
        DAY1,
        "latin1.csv",
        (HEADER + "\n" + row(1) + "\n" + row(2) + ",caf\xe9\n").encode("latin-1"),
    )
    before = path.read_bytes()
    result = run_etl(build_definitions(home), DAY1)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = str(failure.step_failure_data.error.cause or failure.step_failure_data.error)
    assert "latin1.csv: line 3" in message and "encoding=utf-8" in message
    assert path.read_bytes() == before


def test_day_without_files_gives_empty_partitions_and_a_warning(home):
    result = run_etl(build_definitions(home), DAY1 + timedelta(days=5))
    assert result.success
    check = checks_by_name(result)[("bronze/applications", "files_arrived")]
    assert not check.passed and check.severity.value == "WARN" and check.partition == "2025-01-06"
    assert check.metadata["rows"].value == 0 and "no rows landed for 2025-01-06" in check.description
    # No application landed 30 days before (label_delay_days), so no outcome is due: not a warning.
    outcomes = checks_by_name(result)[("bronze/outcomes", "files_arrived")]
    assert outcomes.passed and "no outcomes due" in outcomes.description
    assert table(home, "silver.applications").height == 0
    assert table(home, "gold.features").height == 0
