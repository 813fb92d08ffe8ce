"""The tables' column schemas as the Dagster catalog shows them: types, descriptions and constraints from the
contract (bronze, silver) and the feature set (gold features), so the catalog explains each column."""

import dagster as dg

from medallion.contract.model import ColumnSpec, Contract, FeedSpec

PARTITION = dg.TableColumn("partition_date", "date", "the day (UTC) the row belongs to: the partition key")
LINEAGE = [
    dg.TableColumn("_source_file", "string", "the landed file the row came from"),
    dg.TableColumn("_line_number", "int64", "its physical line in that file (1 = header)"),
    dg.TableColumn("_delivered_at", "timestamp", "when the file landed (its modification time)"),
    dg.TableColumn("_ingested_at", "timestamp", "when bronze read it"),
    dg.TableColumn("_row_hash", "string", "hash of the raw line: the row's stable identity across reruns"),
    dg.TableColumn("_raw_line", "string", "the record exactly as landed (its lines, if a quoted value spans several)"),
    dg.TableColumn("_parse_error", "string", "why the record could not be split into the header's fields, if so"),
    dg.TableColumn(
        "_header", "string", "its file's header as a JSON list, where it is not the contract's columns in order"
    ),
    dg.TableColumn("_header_issue", "string", "missing or extra header columns of its file, if any"),
]
KEPT_IN_SILVER = ("_source_file", "_line_number", "_row_hash")


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _rules(column: ColumnSpec) -> list[str]:
    rules = []
    if column.min is not None:
        rules.append(f">= {_number(column.min)}")
    if column.max is not None:
        rules.append(f"<= {_number(column.max)}")
    if column.allowed is not None:
        rules.append("in (" + ", ".join(str(v) for v in column.allowed) + ")")
    if column.nullable and column.max_null_rate:
        rules.append(f"null rate <= {column.max_null_rate:g}")
    return rules


def _contract_column(column: ColumnSpec) -> dg.TableColumn:
    return dg.TableColumn(
        name=column.name,
        type=column.type,
        description=column.description or None,
        constraints=dg.TableColumnConstraints(nullable=column.nullable, other=_rules(column)),
    )


def bronze_schema(feed: FeedSpec) -> dg.TableSchema:
    """Bronze keeps every record as landed text with its lineage; silver splits it into the contract's columns."""
    return dg.TableSchema(columns=[PARTITION, *LINEAGE])


def silver_schema(feed: FeedSpec) -> dg.TableSchema:
    lineage = [column for column in LINEAGE if column.name in KEPT_IN_SILVER]
    return dg.TableSchema(columns=[PARTITION, *[_contract_column(c) for c in feed.columns], *lineage])


def quarantine_schema(contract: Contract) -> dg.TableSchema:
    feeds = ", ".join(feed.name for feed in contract.feeds)
    return dg.TableSchema(
        columns=[
            PARTITION,
            dg.TableColumn("feed", "string", f"the feed the row came from: {feeds}"),
            dg.TableColumn("reason", "string", "the first rule it broke, e.g. out_of_range"),
            dg.TableColumn("reasons", "list<string>", "every rule:column it broke, e.g. out_of_range:AGE"),
            dg.TableColumn("source_file", "string", "the landed file"),
            dg.TableColumn("line_number", "int64", "its physical line in that file (1 = header)"),
            dg.TableColumn("row_hash", "string", "hash of the raw line, as in bronze"),
            dg.TableColumn("raw_line", "string", "the line exactly as landed"),
            dg.TableColumn("raw_values", "string", "the contract's columns as landed (JSON)"),
        ]
    )


def features_schema(specs: dict[str, tuple[float, float, float]], key: str) -> dg.TableSchema:
    columns = [PARTITION, dg.TableColumn(key, "int64", "the entity's key")]
    for name, (low, high, null_tolerance) in specs.items():
        rules = [f">= {_number(low)}", f"<= {_number(high)}", f"null rate <= {null_tolerance:g}"]
        columns.append(
            dg.TableColumn(name, "float64", "model feature", constraints=dg.TableColumnConstraints(other=rules))
        )
    columns.append(dg.TableColumn("feature_set_version", "string", "the feature set that computed the row"))
    return dg.TableSchema(columns=columns)


def with_declared(observed: dg.TableSchema, declared: dg.TableSchema | None) -> dg.TableSchema:
    """A materialization's schema (its stored types) with the declared descriptions and constraints kept."""
    if declared is None:
        return observed
    known = {c.name: c for c in declared.columns}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                c.name,
                c.type,
                known[c.name].description if c.name in known else None,
                known[c.name].constraints if c.name in known else None,
            )
            for c in observed.columns
        ]
    )
