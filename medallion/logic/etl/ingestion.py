"""Reading landed CSV files into bronze records, and splitting bronze records into the contract's text values.

Bronze keeps each record as landed: its text (`_raw_line`), the file's header (`_header`) and lineage; a record
that does not split into the header's number of fields is flagged (`_parse_error`) so silver can quarantine it
instead of losing it. `split_fields` gives the contract's columns as text from there, for silver to type. A file
that cannot be decoded fails with a message naming the file, the line and the rule.

Why one text column and not one per field: DuckDB stores a 1M-row day's 24 short text columns in ~4.5 s and reads
them back in ~1.9 s; the same records as one column take ~1.2 s and ~0.3 s (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import io
import json
import lzma
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

LINEAGE_COLUMNS = {
    "_source_file": pl.String,
    "_line_number": pl.Int64,
    "_delivered_at": pl.Datetime("us", "UTC"),
    "_ingested_at": pl.Datetime("us", "UTC"),
    "_row_hash": pl.String,
    "_raw_line": pl.String,
    "_parse_error": pl.String,
    "_header": pl.String,
    "_header_issue": pl.String,
}
BRONZE_SCHEMA: dict[str, pl.DataType] = {"partition_date": pl.Date, **LINEAGE_COLUMNS}
WITHOUT_RECORD = "bronze row without its record (written by an older version): materialize bronze for this day again"


class LandingFileError(ValueError):
    """A landed file cannot be read at all; the message names file, line and rule."""

    def __init__(self, path: Path, line: int, rule: str, detail: str):
        self.path, self.line, self.rule = path, line, rule
        super().__init__(f"{path}: line {line}: {detail} (rule: {rule})")


@dataclass(frozen=True)
class HeaderReport:
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def issue(self) -> str | None:
        parts = []
        if self.missing:
            parts.append("missing: " + ", ".join(self.missing))
        if self.extra:
            parts.append("extra: " + ", ".join(self.extra))
        return "; ".join(parts) or None


def bronze_schema() -> dict[str, pl.DataType]:
    return dict(BRONZE_SCHEMA)


def empty_bronze() -> pl.DataFrame:
    return pl.DataFrame(schema=BRONZE_SCHEMA)


def values_schema(columns: list[str]) -> dict[str, pl.DataType]:
    """What `split_fields` gives: bronze's columns with the contract's as text and `_extra_values`."""
    return {"partition_date": pl.Date, **{c: pl.String for c in columns}, **LINEAGE_COLUMNS, "_extra_values": pl.String}


# What the reader decompresses, by a file's last suffix (any case): the standard library's codecs.
COMPRESSIONS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


def _decompress(path: Path, data: bytes) -> bytes:
    decompress = COMPRESSIONS.get(path.suffix.lower())
    if decompress is None:
        return data
    try:
        return decompress(data)
    except (OSError, EOFError, ValueError, lzma.LZMAError) as error:
        raise LandingFileError(
            path, 1, f"compression={path.suffix.lower().lstrip('.')}", f"cannot be decompressed: {error}"
        ) from error


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LandingFileError(
            path, line, "encoding=utf-8", f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8"
        ) from error


def _physical_lines(text: str) -> pl.Series:
    """Split on \\n only (str.splitlines() would also break inside fields on \\f, \\x1c, \\u2028...); element i is line
    i + 1, trailing \\r kept."""
    lines = pl.Series("line", [text], dtype=pl.String).str.split("\n").explode()
    return lines.slice(0, lines.len() - 1) if text.endswith("\n") else lines


# A record of a few dozen numbers is a few hundred characters. A longer line is quarantined with its first characters
# only: kept whole it would be copied into bronze, the quarantine and its JSON (a 100 MB line took 3.6 GB and 19 s).
MAX_LINE_CHARS = 1_000_000
KEPT_CHARS = 1_000


def _split(text: str) -> tuple[list[str], pl.DataFrame]:
    """The header and one row per record: `_line_number` (its first physical line), `_raw_line`, `__fields` (how
    many fields it has: a comma count for plain records, the csv module's reading for records that start on a line
    with a quote) and `error` (why a record could not be read)."""
    physical = _physical_lines(text)
    lines = physical.str.strip_suffix("\r")
    header_line = lines[0]
    header = [h.strip() for h in (next(csv.reader([header_line])) if '"' in header_line else header_line.split(","))]
    body = (
        pl.DataFrame({"_raw_line": lines})
        .with_row_index("_line_number", offset=1)
        .slice(1)
        .with_columns(pl.col("_raw_line").str.len_chars().alias("__length"))
        .select(
            pl.col("_line_number").cast(pl.Int64),
            pl.when(pl.col("__length") > MAX_LINE_CHARS)
            .then(pl.format("{}... ({} characters)", pl.col("_raw_line").str.head(KEPT_CHARS), pl.col("__length")))
            .otherwise(pl.col("_raw_line"))
            .alias("_raw_line"),
            (pl.col("_raw_line").str.contains('"', literal=True) & (pl.col("__length") <= MAX_LINE_CHARS)).alias(
                "__quoted"
            ),
            (pl.col("_raw_line").str.count_matches(",", literal=True) + 1).cast(pl.Int64).alias("__fields"),
            pl.when(pl.col("__length") > MAX_LINE_CHARS)
            .then(pl.format("line of {} characters, longer than {}", pl.col("__length"), pl.lit(MAX_LINE_CHARS)))
            .alias("error"),
        )
    )
    plain = body.filter(~pl.col("__quoted"), pl.col("_raw_line").str.strip_chars() != "").drop("__quoted")
    starts = body.filter(pl.col("__quoted"))["_line_number"].to_list()
    if not starts:
        return header, plain
    records, consumed = _quoted_records(physical, starts)
    plain = plain.filter(~pl.col("_line_number").is_in(pl.Series(consumed, dtype=pl.Int64).implode()))
    parsed = pl.DataFrame(
        records,
        schema={"_line_number": pl.Int64, "_raw_line": pl.String, "__fields": pl.Int64, "error": pl.String},
        orient="row",
    )
    frame = pl.concat([plain, parsed])
    return header, frame.sort("_line_number")


def _quoted_records(physical: pl.Series, starts: list[int]) -> tuple[list[tuple[int, str, int, str | None]], list[int]]:
    """The csv module's reading of each record that starts on a line with a quote; only those lines go through
    Python. A quoted field may run over the following lines: they are returned as consumed. A record with malformed
    quoting (text after a closing quote, a quote still open at the end of the file) keeps only its first line, with
    the csv module's error, and the lines after it are read on their own: a stray quote cannot swallow the rest of
    the file, nor is `"5000"0` read as 50000."""
    records, consumed, total = [], set(), physical.len()
    for start in starts:
        if start in consumed:
            continue
        taken: list[str] = []  # the physical lines the reader asked for, each with its "\n"
        reader = csv.reader(_lines_from(physical, start - 1, total, taken), strict=True)
        try:
            fields, error = next(reader), None
        except csv.Error as failure:
            if "field larger than field limit" in str(failure):
                failure.line_num = start + reader.line_num - 1
                raise
            fields, error = None, f"malformed quoting: {failure}"
        end = start + reader.line_num - 1 if error is None else start
        consumed.update(range(start + 1, end + 1))
        if error or any(f.strip() for f in fields):
            # The line breaks inside a quoted value stay as landed (CRLF in a CRLF file); only the record's end goes.
            raw = "".join(taken[: end - start + 1])[:-1].removesuffix("\r")
            records.append((start, raw, len(fields) if fields else 0, error))
    return records, sorted(consumed)


def _lines_from(physical: pl.Series, first: int, total: int, taken: list[str]) -> Iterator[str]:
    for index in range(first, total):
        line = physical[index] + "\n"
        taken.append(line)
        yield line


def _read_unchanged(path: Path) -> tuple[bytes, datetime]:
    """The file's bytes and its delivery time (modification time). A file that is replaced, grows or is touched
    while it is read is refused rather than half-read: landed files are written once, atomically."""
    try:
        before = path.stat()
        data = path.read_bytes()
        after = path.stat()
    except OSError as error:
        raise LandingFileError(path, 1, "readable", f"cannot be read: {error.strerror or error}") from error
    identity = ("st_ino", "st_size", "st_mtime_ns")
    if any(getattr(before, a) != getattr(after, a) for a in identity) or len(data) != after.st_size:
        raise LandingFileError(
            path,
            data.count(b"\n") + 1,
            "landed files are never modified",
            f"the file changed while it was read ({len(data)} bytes read, {after.st_size} now); run the day again "
            "once its writer has finished",
        )
    return data, datetime.fromtimestamp(after.st_mtime, tz=UTC)


def read_landing_file(
    path: Path, columns: list[str], day: date, ingested_at: datetime
) -> tuple[pl.DataFrame, HeaderReport]:
    """Read one landed CSV into bronze records; `columns` (the contract's) only judge its header."""
    path = Path(path)
    data, delivered_at = _read_unchanged(path)
    text = _decode(path, _decompress(path, data))
    if not text.strip():
        return empty_bronze(), HeaderReport((), ())
    try:
        header, records = _split(text)
    except csv.Error as error:
        raise LandingFileError(path, getattr(error, "line_num", 0) or 1, "csv", str(error)) from error
    if len(set(header)) != len(header):
        duplicated = sorted({h for h in header if header.count(h) > 1})
        raise LandingFileError(path, 1, "header has unique column names", f"duplicate column(s) {duplicated}")
    report = HeaderReport(
        missing=tuple(c for c in columns if c not in header),
        extra=tuple(h for h in header if h not in columns),
    )
    width = len(header)
    frame = records.with_columns(_row_hashes(records["_raw_line"]))
    return (
        frame.select(
            pl.lit(day, pl.Date).alias("partition_date"),
            pl.lit(str(path), pl.String).alias("_source_file"),
            pl.col("_line_number"),
            pl.lit(delivered_at, LINEAGE_COLUMNS["_delivered_at"]).alias("_delivered_at"),
            pl.lit(ingested_at, LINEAGE_COLUMNS["_ingested_at"]).alias("_ingested_at"),
            pl.col("_row_hash"),
            pl.col("_raw_line"),
            pl.coalesce(
                "error",
                pl.when(pl.col("__fields") != width).then(
                    pl.format("expected {} fields, found {}", pl.lit(width), pl.col("__fields"))
                ),
            ).alias("_parse_error"),
            pl.lit(None if header == columns else json.dumps(header), pl.String).alias("_header"),
            pl.lit(report.issue, pl.String).alias("_header_issue"),
        ),
        report,
    )


def split_fields(bronze: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Bronze records with the contract's `columns` as text, split by their file's header: a comma split for plain
    records, the csv module for records with quotes. A header column the contract lacks goes to `_extra_values`
    (JSON); a record with a `_parse_error` has no values. Row order is kept."""
    if bronze.is_empty():
        return pl.DataFrame(schema=values_schema(columns))
    # A bronze table written before records were kept whole still has its old value columns, and rows with no
    # record to split: only bronze's columns are read, and silver quarantines those rows saying why.
    bronze = bronze.select(
        (pl.col(name) if name in bronze.columns else pl.lit(None, dtype)).alias(name)
        for name, dtype in BRONZE_SCHEMA.items()
    ).with_columns(
        pl.when(pl.col("_raw_line").is_null())
        .then(pl.lit(WITHOUT_RECORD))
        .otherwise(pl.col("_parse_error"))
        .alias("_parse_error")
    )
    headers = bronze["_header"].unique(maintain_order=True).to_list()
    if len(headers) == 1:
        return _split_with_header(bronze, _header_of(headers[0], columns), columns)
    ordered = bronze.with_row_index("__row")
    parts = [
        _split_with_header(ordered.filter(pl.col("_header").eq_missing(h)), _header_of(h, columns), columns)
        for h in headers
    ]
    return pl.concat(parts, how="vertical").sort("__row").drop("__row")


def _header_of(stored: str | None, columns: list[str]) -> list[str]:
    """Bronze stores a file's header only where it is not the contract's columns in order: a 1M-row day would
    otherwise carry its header a million times into every load of bronze."""
    return columns if stored is None else json.loads(stored)


def _split_with_header(records: pl.DataFrame, header: list[str], columns: list[str]) -> pl.DataFrame:
    parsed_ok = records["_parse_error"].is_null()
    values = (
        records.select(pl.col("_raw_line").str.split_exact(",", len(header) - 1).struct.rename_fields(header))
        .unnest("_raw_line")
        .with_columns(pl.when(parsed_ok).then(pl.col(h)).alias(h) for h in header)
    )
    quoted = (records["_raw_line"].str.contains('"', literal=True) & parsed_ok).arg_true()
    if quoted.len():
        fields = [next(csv.reader(io.StringIO(raw))) for raw in records["_raw_line"].gather(quoted).to_list()]
        values = values.with_columns(
            values[h].scatter(quoted, [record[i] for record in fields]) for i, h in enumerate(header)
        )
    extra = [h for h in header if h not in columns]
    split = records.hstack(
        values.select(
            *[(pl.col(c) if c in header else pl.lit(None, pl.String)).alias(c) for c in columns],
            (pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.String)).alias("_extra_values"),
        )
    )
    return split.select(*values_schema(columns), *(["__row"] if "__row" in records.columns else []))


def _row_hashes(raw_lines: pl.Series) -> pl.Series:
    """md5 of each raw record, in DuckDB's engine: stable across versions and runs, and off the Python loop."""
    frame = raw_lines.to_frame("raw")  # noqa: F841 - referenced by name in the SQL below
    with _hashing_engine().cursor() as cursor:
        return cursor.execute("select md5(raw) as h from frame").pl()["h"].alias("_row_hash")


@functools.cache
def _hashing_engine():
    """One in-memory DuckDB per process: connecting costs ~10 ms, which a backfill would pay for every file."""
    import duckdb

    return duckdb.connect()


def read_landing_day(
    files: list[Path], columns: list[str], day: date, ingested_at: datetime
) -> tuple[pl.DataFrame, dict[str, HeaderReport]]:
    frames, reports = [], {}
    for path in files:
        frame, report = read_landing_file(path, columns, day, ingested_at)
        frames.append(frame)
        reports[str(path)] = report
    frame = pl.concat(frames, how="vertical") if frames else empty_bronze()
    return frame, reports


MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    "partition_date": pl.Date,
    "file": pl.String,
    "status": pl.String,  # read | ignored
    "reason": pl.String,  # why an ignored file was not read
    "records": pl.Int64,  # bronze records taken from it
    "bytes": pl.Int64,
}


def file_manifest(day: date, read: list[Path], ignored: dict[Path, str], records: pl.DataFrame) -> pl.DataFrame:
    """One row per file seen under a day folder: what was read from it, or why it was not."""
    per_file = dict(records.group_by("_source_file").len().iter_rows()) if records.height else {}
    rows = [(day, str(p), "read", None, per_file.get(str(p), 0), _size(p)) for p in read]
    rows += [(day, str(p), "ignored", why, 0, _size(p)) for p, why in ignored.items()]
    return pl.DataFrame(rows, schema=MANIFEST_SCHEMA, orient="row")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:  # an in-progress upload may be renamed away while the day is read
        return None


def bronze_from_frame(
    frame: pl.DataFrame, columns: list[str], source: Path, day: date, ingested_at: datetime
) -> pl.DataFrame:
    """Bronze records from an already-tabular input (e.g. parquet): each row as a CSV record of `columns` (a value
    with a comma, quote or line break quoted), row numbers as lines."""
    text = frame.select(pl.col(c).cast(pl.String).fill_null("") for c in columns)
    quoted = [
        pl.when(pl.col(c).str.contains('[,"\r\n]'))
        .then(pl.format('"{}"', pl.col(c).str.replace_all('"', '""', literal=True)))
        .otherwise(pl.col(c))
        for c in columns
    ]
    raw = text.select(pl.concat_str(quoted, separator=",").alias("_raw_line"))["_raw_line"]
    return text.select(
        pl.lit(day, pl.Date).alias("partition_date"),
        pl.lit(str(source), pl.String).alias("_source_file"),
        pl.int_range(2, text.height + 2, dtype=pl.Int64).alias("_line_number"),
        pl.lit(ingested_at, LINEAGE_COLUMNS["_delivered_at"]).alias("_delivered_at"),
        pl.lit(ingested_at, LINEAGE_COLUMNS["_ingested_at"]).alias("_ingested_at"),
        _row_hashes(raw),
        raw,
        pl.lit(None, pl.String).alias("_parse_error"),
        pl.lit(None, pl.String).alias("_header"),
        pl.lit(None, pl.String).alias("_header_issue"),
    )
