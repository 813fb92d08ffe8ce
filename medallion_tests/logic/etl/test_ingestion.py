"""read_landing_file: every landed record becomes a bronze row (its text + lineage) or fails naming file, line and
rule; split_fields gives the contract's columns from it, by each file's header."""

import os
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from medallion.logic.etl.ingestion import (
    LINEAGE_COLUMNS,
    WITHOUT_RECORD,
    LandingFileError,
    bronze_schema,
    read_landing_day,
    read_landing_file,
    split_fields,
    values_schema,
)

COLUMNS = ["ID", "NAME", "AMT"]


def landed(frame: pl.DataFrame) -> list[str]:
    return frame["_raw_line"].to_list()


DAY = date(2025, 1, 1)
INGESTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def write(tmp_path: Path, content: str | bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def read(tmp_path: Path, content: str | bytes, name: str = "f.csv", columns=COLUMNS):
    """The file's bronze records split into the contract's columns, and its header report."""
    frame, report = read_landing_file(write(tmp_path, content, name), columns, DAY, INGESTED)
    return split_fields(frame, columns), report


def records(frame: pl.DataFrame) -> list[tuple]:
    return frame.select("ID", "NAME", "AMT", "_line_number").rows()


def test_plain_file_gives_text_rows_with_lineage(tmp_path):
    path = write(tmp_path, "ID,NAME,AMT\n1,a,5\n2,b,6\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    bronze, report = read_landing_file(path, COLUMNS, DAY, INGESTED)
    assert bronze.schema == pl.Schema(bronze_schema())
    assert bronze["_header"].to_list() == [None, None]  # the contract's columns: not repeated on every row
    frame = split_fields(bronze, COLUMNS)
    assert frame.schema == pl.Schema(values_schema(COLUMNS))
    assert records(frame) == [("1", "a", "5", 2), ("2", "b", "6", 3)]
    assert frame["partition_date"].to_list() == [DAY, DAY]
    assert frame["_source_file"].to_list() == [str(path)] * 2
    assert landed(frame) == ["1,a,5", "2,b,6"]
    assert frame["_delivered_at"].to_list() == [datetime.fromtimestamp(1_700_000_000, tz=UTC)] * 2
    assert frame["_ingested_at"].to_list() == [INGESTED] * 2
    assert frame["_parse_error"].null_count() == 2 and frame["_header_issue"].null_count() == 2
    assert frame["_row_hash"].n_unique() == 2
    assert report.missing == () and report.extra == () and report.issue is None


def test_same_line_gives_same_row_hash_in_any_file(tmp_path):
    first, _ = read(tmp_path, "ID,NAME,AMT\n1,a,5\n", "a.csv")
    second, _ = read(tmp_path, "ID,NAME,AMT\n9,z,1\n1,a,5\n", "b.csv")
    assert first["_row_hash"][0] == second["_row_hash"][1]


def test_quoted_fields_with_a_comma_and_a_line_break_start_on_the_records_first_line(tmp_path):
    frame, _ = read(tmp_path, 'ID,NAME,AMT\n1,"Smith, J",5\n2,"two\nlines",6\n3,x,7\n')
    assert records(frame) == [("1", "Smith, J", "5", 2), ("2", "two\nlines", "6", 3), ("3", "x", "7", 5)]
    assert landed(frame) == ['1,"Smith, J",5', '2,"two\nlines",6', "3,x,7"]
    assert frame["_parse_error"].null_count() == 3


def test_quoted_record_with_too_many_fields_is_kept_whole_with_a_parse_error(tmp_path):
    frame, _ = read(tmp_path, 'ID,NAME,AMT\n1,"a",5\n2,"b""q",6,extra\n')
    bad = frame.row(1, named=True)
    assert (bad["ID"], bad["_line_number"], bad["_raw_line"]) == (None, 3, '2,"b""q",6,extra')
    assert bad["_parse_error"] == "expected 3 fields, found 4"


def test_bom_is_dropped_from_the_header(tmp_path):
    frame, report = read(tmp_path, "\ufeffID,NAME,AMT\n1,a,5\n")
    assert report.issue is None
    assert records(frame) == [("1", "a", "5", 2)]


def test_crlf_line_endings(tmp_path):
    frame, report = read(tmp_path, "ID,NAME,AMT\r\n1,a,5\r\n2,b,6\r\n")
    assert report.issue is None
    assert records(frame) == [("1", "a", "5", 2), ("2", "b", "6", 3)]
    assert landed(frame) == ["1,a,5", "2,b,6"]


def test_crlf_with_quotes_and_blank_lines(tmp_path):
    frame, _ = read(tmp_path, 'ID,NAME,AMT\r\n1,"Smith, J",5\r\n\r\n2,"two\r\nlines",6\r\n\r\n3,x,7\r\n')
    assert [r[3] for r in records(frame)] == [2, 4, 7]
    assert frame["NAME"].to_list() == ["Smith, J", "two\r\nlines", "x"]


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_blank_lines_are_skipped_and_line_numbers_stay_physical(tmp_path, quoted):
    q = '"' if quoted else ""
    frame, _ = read(tmp_path, f"ID,NAME,AMT\n\n1,{q}a{q},5\n   \n\n2,b,6\n\n")
    assert records(frame) == [("1", "a", "5", 3), ("2", "b", "6", 6)]


def test_line_too_short_or_too_long_is_kept_with_a_parse_error(tmp_path):
    frame, _ = read(tmp_path, "ID,NAME,AMT\n1,a\n2,b,6\n3,c,7,8\n")
    assert frame["_parse_error"].to_list() == ["expected 3 fields, found 2", None, "expected 3 fields, found 4"]
    assert landed(frame) == ["1,a", "2,b,6", "3,c,7,8"]
    assert frame["ID"].to_list() == [None, "2", None]
    assert frame["_line_number"].to_list() == [2, 3, 4]


def test_header_missing_a_column(tmp_path):
    frame, report = read(tmp_path, "ID,NAME\n1,a\n")
    assert report.missing == ("AMT",) and report.extra == ()
    assert report.issue == "missing: AMT"
    assert frame["AMT"].to_list() == [None]
    assert frame["_header_issue"].to_list() == ["missing: AMT"]


def test_header_with_an_extra_column_keeps_its_values_as_json(tmp_path):
    frame, report = read(tmp_path, "ID,NAME,AMT,NOTE\n1,a,5,hi\n")
    assert report.extra == ("NOTE",) and report.missing == ()
    assert records(frame) == [("1", "a", "5", 2)]
    assert frame["_extra_values"].to_list() == ['{"NOTE":"hi"}']
    assert frame.columns == list(values_schema(COLUMNS))


def test_header_columns_in_another_order_and_with_spaces(tmp_path):
    frame, report = read(tmp_path, " AMT , ID,NAME\n5,1,a\n")
    assert report.issue is None
    assert records(frame) == [("1", "a", "5", 2)]


def test_header_missing_and_extra_columns_together(tmp_path):
    _, report = read(tmp_path, "ID,NAME,AMOUNT\n1,a,5\n")
    assert report.issue == "missing: AMT; extra: AMOUNT"


def test_duplicated_header_column_fails_naming_line_1(tmp_path):
    path = write(tmp_path, "ID,NAME,ID\n1,a,5\n")
    with pytest.raises(LandingFileError) as error:
        read_landing_file(path, COLUMNS, DAY, INGESTED)
    assert error.value.line == 1 and error.value.path == path
    assert str(path) in str(error.value) and "line 1" in str(error.value) and "['ID']" in str(error.value)


def test_non_utf8_fails_with_the_line_of_the_bad_byte(tmp_path):
    path = write(tmp_path, "ID,NAME,AMT\n1,a,5\n2,café,6\n".encode("latin-1"))
    with pytest.raises(LandingFileError) as error:
        read_landing_file(path, COLUMNS, DAY, INGESTED)
    assert error.value.line == 3 and error.value.rule == "encoding=utf-8"
    assert f"{path}: line 3:" in str(error.value) and "0xe9" in str(error.value)


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"], ids=["empty", "newlines", "spaces"])
def test_empty_file_gives_no_rows_and_no_header_issue(tmp_path, content):
    frame, report = read(tmp_path, content)
    assert frame.height == 0 and frame.schema == pl.Schema(values_schema(COLUMNS))
    assert report.issue is None


@pytest.mark.parametrize(
    "content", ["ID,NAME,AMT\n", "ID,NAME,AMT", '"ID","NAME","AMT"\r\n'], ids=["lf", "no-newline", "quoted-crlf"]
)
def test_header_only_file_gives_no_rows(tmp_path, content):
    frame, report = read(tmp_path, content)
    assert frame.height == 0 and frame.schema == pl.Schema(values_schema(COLUMNS))
    assert report.issue is None


def test_read_landing_day_concatenates_files_and_reports_each(tmp_path):
    a = write(tmp_path, "ID,NAME,AMT\n1,a,5\n", "a.csv")
    b = write(tmp_path, "ID,NAME\n2,b\n", "b.csv")
    frame, reports = read_landing_day([a, b], COLUMNS, DAY, INGESTED)
    assert split_fields(frame, COLUMNS).select("ID", "AMT").rows() == [("1", "5"), ("2", None)]
    assert reports[str(a)].issue is None and reports[str(b)].issue == "missing: AMT"
    empty, none = read_landing_day([], COLUMNS, DAY, INGESTED)
    assert empty.height == 0 and none == {} and set(LINEAGE_COLUMNS) <= set(empty.columns)


def test_the_landed_file_is_not_modified(tmp_path):
    path = write(tmp_path, 'ID,NAME,AMT\n1,"a, b",5\n')
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    read_landing_file(path, COLUMNS, DAY, INGESTED)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


def test_csv_error_names_the_line_it_happened_on(tmp_path):
    path = write(tmp_path, 'ID,NAME,AMT\n1,"a",5\n2,b,6\n3,"' + "x" * 200_000 + '",7\n')
    with pytest.raises(LandingFileError) as error:
        read_landing_file(path, COLUMNS, DAY, INGESTED)
    assert error.value.rule == "csv"
    assert error.value.line == 4


@pytest.mark.parametrize("separator", ["\x0c", "\u2028"], ids=["form-feed", "line-separator"])
def test_unicode_line_separators_inside_a_field_do_not_split_the_record(tmp_path, separator):
    frame, _ = read(tmp_path, f"ID,NAME,AMT\n1,a{separator}b,5\n2,c,6\n")
    assert records(frame) == [("1", f"a{separator}b", "5", 2), ("2", "c", "6", 3)]


def test_the_record_is_kept_exactly_as_landed_in_any_column_order(tmp_path):
    frame, _ = read(tmp_path, "AMT,ID,NAME\n5,1, a \n")
    assert landed(frame) == ["5,1, a "] and records(frame) == [("1", " a ", "5", 2)]
    assert frame["_header"].to_list() == ['["AMT", "ID", "NAME"]']
    frame, _ = read(tmp_path, "ID,NAME,AMT\n1, a ,5\n", "b.csv")
    assert landed(frame) == ["1, a ,5"]


def test_files_with_different_headers_split_each_by_its_own_and_keep_their_order(tmp_path):
    a = write(tmp_path, "ID,NAME,AMT\n1,a,5\n", "a.csv")
    b = write(tmp_path, 'AMT,NAME,ID,NOTE\n6,"b, c",2,hi\n', "b.csv")
    c = write(tmp_path, "ID,NAME,AMT\n3,d,7\n", "c.csv")
    frame = split_fields(read_landing_day([a, b, c], COLUMNS, DAY, INGESTED)[0], COLUMNS)
    assert records(frame) == [("1", "a", "5", 2), ("2", "b, c", "6", 2), ("3", "d", "7", 2)]
    assert frame["_extra_values"].to_list() == [None, '{"NOTE":"hi"}', None]


def test_a_bronze_row_without_its_record_is_flagged_not_read_as_empty(tmp_path):
    bronze, _ = read_landing_file(write(tmp_path, "ID,NAME,AMT\n1,a,5\n2,b,6\n"), COLUMNS, DAY, INGESTED)
    older = bronze.with_columns(
        pl.when(pl.col("_line_number") == 3).then(None).otherwise("_raw_line").alias("_raw_line")
    )
    # As an older bronze table loads: its per-field text columns, no _header column.
    older = older.drop("_header").with_columns(pl.lit("stale").alias("NAME"), pl.lit(None).alias("_extra_values"))
    frame = split_fields(older, COLUMNS)
    assert frame["_parse_error"].to_list() == [None, WITHOUT_RECORD]
    assert records(frame) == [("1", "a", "5", 2), (None, None, None, 3)]
