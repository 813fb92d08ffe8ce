"""Bronze → silver: type each value per the contract, keep valid rows, send every other row to the quarantine.

Reason codes (a row can carry several): `malformed_line`, `missing_column:<col>` (the file's header lacks a required
column; a nullable column its header lacks is read as null),
`missing:<col>`, `invalid_type:<col>`, `out_of_range:<col>`, `not_allowed:<col>`, and for rows that are valid
but lose the de-duplication on the key: `duplicate_row` (the same line delivered again) or
`superseded` (a later delivery of the same key with other values).

De-duplication keeps the latest delivery of each key: the file delivered last (its modification time, then
its name) and, within a file, the last line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from medallion.contract import ColumnSpec, FeedSpec
from medallion.logic.etl.ingestion import split_fields

LINEAGE_KEPT = ["_source_file", "_line_number", "_row_hash"]
DELIVERY_ORDER = ["_delivered_at", "_source_file", "_line_number"]
TYPING_SLICE_ROWS = 200_000
# What the quarantine is built from, besides the contract's columns as text.
QUARANTINE_INPUT = ["partition_date", "__reasons", "_source_file", "_line_number", "_row_hash", "_raw_line"]

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "partition_date": pl.Date,
    "feed": pl.String,
    "reason": pl.String,
    "reasons": pl.List(pl.String),
    "source_file": pl.String,
    "line_number": pl.Int64,
    "row_hash": pl.String,
    "raw_line": pl.String,
    "raw_values": pl.String,
}


@dataclass(frozen=True)
class SilverResult:
    valid: pl.DataFrame
    quarantine: pl.DataFrame

    def reason_counts(self) -> dict[str, int]:
        if self.quarantine.is_empty():
            return {}
        counts = self.quarantine.select(pl.col("reasons").explode().alias("r")).group_by("r").len().sort("r")
        return dict(zip(counts["r"].to_list(), counts["len"].to_list(), strict=True))


def _text(column: ColumnSpec) -> pl.Expr:
    """The value stripped of surrounding spaces; an empty value is null. Typing and presence both start here."""
    text = pl.col(column.name).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _typed(column: ColumnSpec) -> pl.Expr:
    text = _text(column)
    if column.type == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if column.type == "bool":
        lowered = text.str.to_lowercase()
        return pl.when(lowered.is_in(["true", "1"])).then(True).when(lowered.is_in(["false", "0"])).then(False)
    return text.cast(column.dtype, strict=False)


def _violations(column: ColumnSpec, header_missing: pl.Expr) -> list[tuple[pl.Expr, str]]:
    present = pl.col(f"__present_{column.name}")
    typed = pl.col(f"__typed_{column.name}")
    # A file whose header lacks a nullable column (e.g. one landed before the contract gained it) gives that column
    # null values, as an empty value would; only a required column's absence rejects the file's rows.
    rules = [
        (header_missing & pl.lit(not column.nullable), f"missing_column:{column.name}"),
        (~header_missing & ~present & pl.lit(not column.nullable), f"missing:{column.name}"),
        (present & typed.is_null(), f"invalid_type:{column.name}"),
    ]
    if column.type.startswith("float"):
        rules.append((typed.is_nan() | typed.is_infinite(), f"invalid_type:{column.name}"))
    if column.min is not None:
        rules.append((typed < column.min, f"out_of_range:{column.name}"))
    if column.max is not None:
        rules.append((typed > column.max, f"out_of_range:{column.name}"))
    if column.allowed is not None:
        rules.append((typed.is_not_null() & ~typed.is_in(list(column.allowed)), f"not_allowed:{column.name}"))
    return rules


def _rules(bronze: pl.DataFrame, feed: FeedSpec) -> list[tuple[pl.Expr, str]]:
    """Every (condition, reason code) of the contract; a true condition rejects the row."""
    issues = [i for i in bronze["_header_issue"].unique().to_list() if i]
    parsed = pl.col("_parse_error").is_null()
    rules = [(~parsed, "malformed_line")]
    for column in feed.columns:
        lacking = [i for i in issues if re.search(f"(?:^|missing: |, ){re.escape(column.name)}(?:,|;|$)", i)]
        header_missing = pl.col("_header_issue").is_in(lacking).fill_null(False) if lacking else pl.lit(False)
        rules += [(parsed & condition, code) for condition, code in _violations(column, header_missing)]
    return rules


def validate_feed(bronze: pl.DataFrame, feed: FeedSpec) -> SilverResult:
    """Split bronze records into typed valid rows (one per key) and quarantined rows with reasons."""
    rules = _rules(bronze, feed)
    typed = [f"__typed_{c.name}" for c in feed.columns]
    checked_parts, invalid_parts = [], []
    # Slice by slice: a slice's records are split into text values, typed and judged, and only the rejected rows
    # keep their text (with reason lists, costly to build); a 1M-row day's text would otherwise take ~1 GB at once.
    for offset in range(0, max(bronze.height, 1), TYPING_SLICE_ROWS):
        part = (
            split_fields(bronze.slice(offset, TYPING_SLICE_ROWS), feed.column_names)
            .with_row_index("__row", offset=offset)
            .lazy()
            # Lazy, so that common-subexpression elimination strips each value once for its type and its presence.
            .with_columns(
                *[_typed(c).alias(f"__typed_{c.name}") for c in feed.columns],
                *[_text(c).is_not_null().alias(f"__present_{c.name}") for c in feed.columns],
            )
            .with_columns(pl.any_horizontal(condition.fill_null(False) for condition, _ in rules).alias("__rejected"))
            .collect()
        )
        invalid_parts.append(
            part.filter(pl.col("__rejected")).with_columns(
                pl.concat_list(pl.when(condition).then(pl.lit(code)) for condition, code in rules)
                .list.drop_nulls()
                .list.unique(maintain_order=True)
                .alias("__reasons")
            )
        )
        checked_parts.append(part.select("__row", "partition_date", *typed, *DELIVERY_ORDER, "_row_hash", "__rejected"))
    checked = pl.concat(checked_parts, how="vertical")
    # The latest delivery of each (day, key) wins. Only the narrow ordering columns are sorted, and only the few
    # losers are split again from bronze, so memory stays near the size of the output.
    keyed = ["partition_date", f"__typed_{feed.key}"]
    ranked = (
        checked.lazy()
        .filter(~pl.col("__rejected"))
        .select("__row", *keyed, *DELIVERY_ORDER)
        .sort(["partition_date", *DELIVERY_ORDER])
        .with_columns(pl.struct(keyed).is_last_distinct().alias("__latest"))
        .select("__row", *keyed, "__latest")
        .collect()
    )
    losers = ranked.filter(~pl.col("__latest"))
    winners = ranked.filter(pl.col("__latest")).join(losers.select(keyed).unique(), on=keyed, nulls_equal=True)
    winner_hash = checked["_row_hash"].gather(winners["__row"])
    superseded = (
        split_fields(bronze[losers["__row"]], feed.column_names)
        .with_columns(losers[f"__typed_{feed.key}"])
        .join(winners.select(*keyed, winner_hash.alias("__winner_hash")), on=keyed, how="left", nulls_equal=True)
        .with_columns(
            pl.when(pl.col("_row_hash") == pl.col("__winner_hash"))
            .then(pl.concat_list(pl.lit("duplicate_row")))
            .otherwise(pl.concat_list(pl.lit("superseded")))
            .alias("__reasons")
        )
    )
    kept = (
        checked.lazy()
        .filter(~pl.col("__rejected") & ~pl.col("__row").is_in(losers["__row"].implode()))
        .select(
            "partition_date",
            *[pl.col(f"__typed_{c.name}").alias(c.name) for c in feed.columns],
            *LINEAGE_KEPT,
        )
        .collect()
    )
    rejected = pl.concat(
        [frame.select(QUARANTINE_INPUT + feed.column_names) for frame in [*invalid_parts, superseded]],
        how="vertical",
    )
    return SilverResult(valid=kept, quarantine=quarantine_rows(rejected, feed))


def quarantine_rows(rejected: pl.DataFrame, feed: FeedSpec) -> pl.DataFrame:
    if rejected.is_empty():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return rejected.select(
        "partition_date",
        pl.lit(feed.name).alias("feed"),
        pl.col("__reasons").list.first().str.split(":").list.first().alias("reason"),
        pl.col("__reasons").alias("reasons"),
        pl.col("_source_file").alias("source_file"),
        pl.col("_line_number").alias("line_number"),
        pl.col("_row_hash").alias("row_hash"),
        pl.col("_raw_line").alias("raw_line"),
        pl.struct(feed.column_names).struct.json_encode().alias("raw_values"),
    ).sort(["partition_date", "source_file", "line_number"])
