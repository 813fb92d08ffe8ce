"""validate_feed: typed valid rows, one per key and day (latest delivery wins),
every other row quarantined with reasons."""

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from medallion.contract import ColumnSpec, FeedSpec
from medallion.logic.etl.cleaning import QUARANTINE_SCHEMA, validate_feed
from medallion.logic.etl.ingestion import empty_bronze, read_landing_file

FEED = FeedSpec(
    name="things",
    key="id",
    columns=(
        ColumnSpec("id", "int64", min=1),
        ColumnSpec("amount", "float64", min=0, max=1000),
        ColumnSpec("kind", "int8", allowed=(1, 2)),
        ColumnSpec("note", "string", nullable=True, max_null_rate=1.0),
        ColumnSpec("seen", "date", nullable=True),
        ColumnSpec("flag", "bool", nullable=True),
    ),
)
SILVER_SCHEMA = {
    "partition_date": pl.Date,
    **{c.name: c.dtype for c in FEED.columns},
    "_source_file": pl.String,
    "_line_number": pl.Int64,
    "_row_hash": pl.String,
}
HEADER = "id,amount,kind,note,seen,flag"
DAY = date(2025, 1, 1)
INGESTED = datetime(2025, 1, 2, tzinfo=UTC)


def bronze(
    tmp_path: Path,
    lines: list[str],
    name: str = "a.csv",
    day: date = DAY,
    header: str = HEADER,
    mtime: int | None = None,
) -> pl.DataFrame:
    path = tmp_path / day.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return read_landing_file(path, FEED.column_names, day, INGESTED)[0]


def reasons_by_line(result) -> dict[int, list[str]]:
    return dict(result.quarantine.select("line_number", "reasons").iter_rows())


def assert_conserved(frame: pl.DataFrame, result) -> None:
    assert result.valid.height + result.quarantine.height == frame.height


def test_valid_rows_are_typed_and_whitespace_is_stripped(tmp_path):
    frame = bronze(tmp_path, [" 1 , 12.5 , 1 , hello ,2025-01-02, TRUE ", "2,0,2,,,0", "3,1000,1,x,,false"])
    result = validate_feed(frame, FEED)
    assert result.quarantine.height == 0
    valid = result.valid.sort("id")
    assert valid.schema["id"] == pl.Int64 and valid.schema["amount"] == pl.Float64 and valid.schema["kind"] == pl.Int8
    assert valid.schema["seen"] == pl.Date and valid.schema["flag"] == pl.Boolean
    assert valid.select(c.name for c in FEED.columns).rows() == [
        (1, 12.5, 1, "hello", date(2025, 1, 2), True),
        (2, 0.0, 2, None, None, False),
        (3, 1000.0, 1, "x", None, False),
    ]
    assert valid.columns == list(SILVER_SCHEMA)
    assert valid["_line_number"].to_list() == [2, 3, 4]


def test_nullable_columns_accept_empty_and_blank_values(tmp_path):
    result = validate_feed(bronze(tmp_path, ["1,5,1,   ,  ,  "]), FEED)
    assert result.quarantine.height == 0
    assert result.valid.select("note", "seen", "flag").rows() == [(None, None, None)]


@pytest.mark.parametrize(
    "line, reasons",
    [
        (",5,1,,,", ["missing:id"]),
        ("1,  ,1,,,", ["missing:amount"]),
        ("x1,5,1,,,", ["invalid_type:id"]),
        ("1,5.5.5,1,,,", ["invalid_type:amount"]),
        ("1,5,1.0,,,", ["invalid_type:kind"]),
        ("1,5,300,,,", ["invalid_type:kind"]),  # does not fit int8
        ("1,5,1,,2025-02-30,", ["invalid_type:seen"]),
        ("1,5,1,,02/01/2025,", ["invalid_type:seen"]),
        ("1,5,1,,,yes", ["invalid_type:flag"]),
        ("0,5,1,,,", ["out_of_range:id"]),
        ("1,-0.01,1,,,", ["out_of_range:amount"]),
        ("1,1000.5,1,,,", ["out_of_range:amount"]),
        ("1,5,3,,,", ["not_allowed:kind"]),
        ("1,5,1", ["malformed_line"]),
        ("1,5,1,,,,", ["malformed_line"]),
    ],
)
def test_each_reason_code(tmp_path, line, reasons):
    frame = bronze(tmp_path, [line])
    result = validate_feed(frame, FEED)
    assert result.valid.height == 0
    row = result.quarantine.row(0, named=True)
    assert row["reasons"] == reasons
    assert row["reason"] == reasons[0].split(":")[0]
    assert row["feed"] == "things" and row["line_number"] == 2 and row["raw_line"] == line
    assert row["source_file"].endswith("a.csv")


def test_several_reasons_on_one_row_in_column_order(tmp_path):
    result = validate_feed(bronze(tmp_path, ["abc,-1,9,,soon,maybe"]), FEED)
    row = result.quarantine.row(0, named=True)
    assert row["reasons"] == [
        "invalid_type:id",
        "out_of_range:amount",
        "not_allowed:kind",
        "invalid_type:seen",
        "invalid_type:flag",
    ]
    assert row["reason"] == "invalid_type"
    assert json.loads(row["raw_values"]) == {
        "id": "abc",
        "amount": "-1",
        "kind": "9",
        "note": "",
        "seen": "soon",
        "flag": "maybe",
    }


def test_column_missing_from_the_header(tmp_path):
    frame = bronze(tmp_path, ["1,5,,,"], header="id,amount,note,seen,flag")
    result = validate_feed(frame, FEED)
    assert reasons_by_line(result) == {2: ["missing_column:kind"]}
    assert result.quarantine["reason"].to_list() == ["missing_column"]


def test_missing_column_whose_name_is_a_prefix_of_another(tmp_path):
    feed = FeedSpec(
        "f", "id", (ColumnSpec("id", "int64"), ColumnSpec("amt", "int64"), ColumnSpec("amt_total", "int64"))
    )
    path = tmp_path / "p.csv"
    path.write_text("id,amt\n1,5\n", encoding="utf-8")
    frame = read_landing_file(path, feed.column_names, DAY, INGESTED)[0]
    assert validate_feed(frame, feed).quarantine["reasons"].to_list() == [["missing_column:amt_total"]]


def test_duplicate_line_and_superseded_key_within_a_file(tmp_path):
    frame = bronze(tmp_path, ["1,5,1,,,", "1,5,1,,,", "2,10,1,,,", "2,20,1,,,", "3,1,1,,,"])
    result = validate_feed(frame, FEED)
    assert_conserved(frame, result)
    assert reasons_by_line(result) == {2: ["duplicate_row"], 4: ["superseded"]}
    assert result.quarantine.filter(pl.col("line_number") == 4)["reason"].to_list() == ["superseded"]
    assert dict(result.valid.select("id", "amount").iter_rows()) == {1: 5.0, 2: 20.0, 3: 1.0}
    assert result.valid.filter(pl.col("id") == 1)["_line_number"].to_list() == [3]


def test_an_invalid_later_row_does_not_supersede_a_valid_one(tmp_path):
    frame = bronze(tmp_path, ["1,5,1,,,", "1,-5,1,,,"])
    result = validate_feed(frame, FEED)
    assert result.valid["amount"].to_list() == [5.0]
    assert reasons_by_line(result) == {3: ["out_of_range:amount"]}


def test_the_latest_delivered_file_wins_even_if_its_name_sorts_first(tmp_path):
    late = bronze(tmp_path, ["1,100,1,,,"], name="a_late.csv", mtime=1_700_000_200)
    early = bronze(tmp_path, ["1,200,1,,,", "2,1,1,,,"], name="b_early.csv", mtime=1_700_000_100)
    frame = pl.concat([late, early])
    result = validate_feed(frame, FEED)
    assert_conserved(frame, result)
    assert result.valid.filter(pl.col("id") == 1)["amount"].to_list() == [100.0]
    assert result.quarantine.select("source_file", "reasons").rows() == [
        (str(tmp_path / DAY.isoformat() / "b_early.csv"), ["superseded"])
    ]


def test_same_delivery_time_then_file_name_then_line_decides(tmp_path):
    b = bronze(tmp_path, ["1,300,1,,,", "1,301,1,,,"], name="b.csv", mtime=1_700_000_000)
    a = bronze(tmp_path, ["1,100,1,,,"], name="a.csv", mtime=1_700_000_000)
    result = validate_feed(pl.concat([b, a]), FEED)
    assert result.valid["amount"].to_list() == [301.0]
    assert sorted(result.quarantine.select("source_file", "line_number").rows()) == [
        (str(tmp_path / DAY.isoformat() / "a.csv"), 2),
        (str(tmp_path / DAY.isoformat() / "b.csv"), 2),
    ]


def test_same_row_delivered_again_in_a_later_file_is_a_duplicate(tmp_path):
    first = bronze(tmp_path, ["1,5,1,,,"], name="first.csv", mtime=1_700_000_000)
    again = bronze(tmp_path, ["1,5,1,,,"], name="again.csv", mtime=1_700_000_500)
    result = validate_feed(pl.concat([first, again]), FEED)
    assert result.valid["_source_file"][0].endswith("again.csv")
    assert result.quarantine.select("source_file", "reasons").rows()[0][1] == ["duplicate_row"]
    assert result.quarantine["source_file"][0].endswith("first.csv")


def test_the_same_key_on_two_days_is_kept_on_both(tmp_path):
    day2 = date(2025, 1, 2)
    frame = pl.concat([bronze(tmp_path, ["1,5,1,,,"]), bronze(tmp_path, ["1,6,1,,,"], day=day2)])
    result = validate_feed(frame, FEED)
    assert result.quarantine.height == 0
    assert result.valid.select("partition_date", "amount").rows() == [(DAY, 5.0), (day2, 6.0)]


def test_reason_counts_and_conservation_on_a_mixed_day(tmp_path):
    lines = ["1,5,1,,,", "1,5,1,,,", "2,x,1,,,", "3,5,7,,,", "4,5", "5,5,1,,,"]
    frame = bronze(tmp_path, lines)
    result = validate_feed(frame, FEED)
    assert_conserved(frame, result)
    assert result.reason_counts() == {
        "duplicate_row": 1,
        "invalid_type:amount": 1,
        "malformed_line": 1,
        "not_allowed:kind": 1,
    }


def test_empty_bronze_gives_empty_typed_outputs():
    result = validate_feed(empty_bronze(), FEED)
    assert result.valid.height == 0 and result.quarantine.height == 0
    assert result.valid.schema == pl.Schema(SILVER_SCHEMA)
    assert result.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)
    assert result.reason_counts() == {}


def test_nan_text_in_a_float_column_is_quarantined(tmp_path):
    feed = FeedSpec("f", "id", (ColumnSpec("id", "int64"), ColumnSpec("amount", "float64", min=0)))
    path = tmp_path / "nan.csv"
    path.write_text("id,amount\n1,nan\n2,5\n", encoding="utf-8")
    result = validate_feed(read_landing_file(path, feed.column_names, DAY, INGESTED)[0], feed)
    assert result.valid["id"].to_list() == [2]
    assert result.quarantine["line_number"].to_list() == [2]
