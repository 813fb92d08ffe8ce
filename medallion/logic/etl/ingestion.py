"""Reading landed CSV files into bronze rows: every value kept as text, every line traceable to its file.

A file that cannot be decoded fails with a message naming the file, the line and the rule. A line that does
not split into the header's number of fields is kept whole (`_raw_line`, `_parse_error`) so silver can
quarantine it instead of losing it.
"""

from __future__ import annotations

import csv
import hashlib
import io
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
    "_header_issue": pl.String,
    "_extra_values": pl.String,
}


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


def bronze_schema(columns: list[str]) -> dict[str, pl.DataType]:
    return {"partition_date": pl.Date, **{c: pl.String for c in columns}, **LINEAGE_COLUMNS}


def empty_bronze(columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema=bronze_schema(columns))


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise LandingFileError(
            path, line, "encoding=utf-8", f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8"
        ) from error


def _physical_lines(text: str) -> list[str]:
    """Split on \\n (and \\r\\n) only: str.splitlines() would also break inside fields on \\f, \\x1c, \\u2028..."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _split_plain(text: str) -> tuple[list[str], list[str], list[int], list[list[str] | None]]:
    """Fast path for files without quoting: one physical line is one record."""
    lines = _physical_lines(text)
    header = [h.strip() for h in lines[0].split(",")]
    raw, numbers = [], []
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            raw.append(line)
            numbers.append(number)
    return header, raw, numbers, []


def _split_quoted(text: str) -> tuple[list[str], list[str], list[int], list[list[str] | None]]:
    """Slow path for quoted CSV, where one record may span lines; the csv module tracks where each starts."""
    physical = _physical_lines(text)
    reader = csv.reader(io.StringIO(text, newline=""))
    raw, numbers, fields = [], [], []
    try:
        header = [h.strip() for h in next(reader)]
        previous_end = reader.line_num
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(f.strip() for f in record):
                continue
            raw.append("\n".join(physical[start - 1 : previous_end]))
            numbers.append(start)
            fields.append(record)
    except csv.Error as error:
        error.line_num = reader.line_num
        raise
    return header, raw, numbers, fields


def read_landing_file(
    path: Path, columns: list[str], day: date, ingested_at: datetime
) -> tuple[pl.DataFrame, HeaderReport]:
    """Read one landed CSV into bronze rows for `columns` (the contract's, in order)."""
    path = Path(path)
    data = path.read_bytes()
    delivered_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    text = _decode(path, data)
    if not text.strip():
        return empty_bronze(columns), HeaderReport((), ())
    try:
        header, raw, numbers, quoted_fields = (_split_quoted if '"' in text else _split_plain)(text)
    except csv.Error as error:
        raise LandingFileError(path, getattr(error, "line_num", 0) or 1, "csv", str(error)) from error
    if len(set(header)) != len(header):
        duplicated = sorted({h for h in header if header.count(h) > 1})
        raise LandingFileError(path, 1, "header has unique column names", f"duplicate column(s) {duplicated}")
    report = HeaderReport(
        missing=tuple(c for c in columns if c not in header),
        extra=tuple(h for h in header if h not in columns),
    )
    frame = _fields_frame(header, raw, quoted_fields)
    frame = frame.with_columns(
        pl.Series("_raw_line", raw, dtype=pl.String),
        pl.Series("_line_number", numbers, dtype=pl.Int64),
        pl.Series("_row_hash", [hashlib.blake2b(r.encode(), digest_size=16).hexdigest() for r in raw], dtype=pl.String),
    )
    extra_values = (
        pl.struct([pl.col(c) for c in report.extra]).struct.json_encode() if report.extra else pl.lit(None, pl.String)
    )
    return (
        frame.select(
            pl.lit(day, pl.Date).alias("partition_date"),
            *[(pl.col(c) if c in header else pl.lit(None, pl.String)).alias(c) for c in columns],
            pl.lit(str(path), pl.String).alias("_source_file"),
            pl.col("_line_number"),
            pl.lit(delivered_at, LINEAGE_COLUMNS["_delivered_at"]).alias("_delivered_at"),
            pl.lit(ingested_at, LINEAGE_COLUMNS["_ingested_at"]).alias("_ingested_at"),
            pl.col("_row_hash"),
            pl.col("_raw_line"),
            pl.col("_parse_error"),
            pl.lit(report.issue, pl.String).alias("_header_issue"),
            extra_values.alias("_extra_values"),
        ),
        report,
    )


def _fields_frame(header: list[str], raw: list[str], quoted_fields: list[list[str]]) -> pl.DataFrame:
    """Split records into one text column per header field; records with the wrong field count
    get nulls and an error."""
    width = len(header)
    if quoted_fields or not raw:
        records = quoted_fields if quoted_fields else []
        ok = [len(r) == width for r in records]
        data = {h: [r[i] if good else None for r, good in zip(records, ok, strict=True)] for i, h in enumerate(header)}
        errors = [
            None if good else f"expected {width} fields, found {len(r)}" for r, good in zip(records, ok, strict=True)
        ]
        return pl.DataFrame(
            {**data, "_parse_error": errors}, schema={**{h: pl.String for h in header}, "_parse_error": pl.String}
        )
    lines = pl.Series("line", raw, dtype=pl.String).to_frame()
    n_fields = pl.col("line").str.count_matches(",", literal=True) + 1
    return lines.select(
        pl.when(n_fields == width)
        .then(pl.col("line"))
        .otherwise(None)
        .str.split_exact(",", width - 1)
        .struct.rename_fields(header)
        .alias("fields"),
        pl.when(n_fields != width)
        .then(pl.format("expected {} fields, found {}", pl.lit(width), n_fields))
        .otherwise(None)
        .alias("_parse_error"),
    ).unnest("fields")


def read_landing_day(
    files: list[Path], columns: list[str], day: date, ingested_at: datetime
) -> tuple[pl.DataFrame, dict[str, HeaderReport]]:
    frames, reports = [], {}
    for path in files:
        frame, report = read_landing_file(path, columns, day, ingested_at)
        frames.append(frame)
        reports[str(path)] = report
    frame = pl.concat(frames, how="vertical") if frames else empty_bronze(columns)
    return frame, reports


def bronze_from_frame(
    frame: pl.DataFrame, columns: list[str], source: Path, day: date, ingested_at: datetime
) -> pl.DataFrame:
    """Bronze rows from an already-tabular input (e.g. parquet): values as text, row numbers as lines."""
    text = frame.select(pl.col(c).cast(pl.String) for c in columns)
    raw = text.select(pl.concat_str(pl.all().fill_null(""), separator=",").alias("_raw_line"))["_raw_line"]
    return text.select(
        pl.lit(day, pl.Date).alias("partition_date"),
        *columns,
        pl.lit(str(source), pl.String).alias("_source_file"),
        pl.int_range(2, text.height + 2, dtype=pl.Int64).alias("_line_number"),
        pl.lit(ingested_at, LINEAGE_COLUMNS["_delivered_at"]).alias("_delivered_at"),
        pl.lit(ingested_at, LINEAGE_COLUMNS["_ingested_at"]).alias("_ingested_at"),
        pl.Series("_row_hash", [hashlib.blake2b(r.encode(), digest_size=16).hexdigest() for r in raw], dtype=pl.String),
        raw,
        pl.lit(None, pl.String).alias("_parse_error"),
        pl.lit(None, pl.String).alias("_header_issue"),
        pl.lit(None, pl.String).alias("_extra_values"),
    )
