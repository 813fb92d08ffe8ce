"""Silver: typed, valid, de-duplicated rows per feed, and the quarantine holding every rejected row with its reasons."""

import logging
import time
from datetime import date

import dagster as dg
import polars as pl

from medallion.contract import Contract
from medallion.contract.catalog import quarantine_schema, silver_schema
from medallion.logic.etl.cleaning import validate_feed
from medallion.names import BRONZE, SILVER, table_key
from medallion.policies import op_policy
from medallion.resources.table_writes import DaysWrite
from medallion.resources.warehouse import Warehouse, WarehouseSession
from medallion.utils.dates import days_in
from medallion.utils.table_metadata import RangeTotals, daily_counts

log = logging.getLogger("medallion.etl")


def build_silver_assets(contract: Contract, start: date) -> dg.AssetsDefinition:
    bronze_keys = [table_key(BRONZE, feed.name) for feed in contract.feeds]

    def spec(table: str, description: str, schema: dg.TableSchema) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=table_key(SILVER, table),
            description=description,
            deps=bronze_keys,
            metadata={"dagster/column_schema": schema},
        )

    specs = [
        spec(
            feed.name,
            f"{feed.name} typed per the {contract.name} contract, valid rows only, one per {feed.key} and day "
            "(latest delivery wins).",
            silver_schema(feed),
        )
        for feed in contract.feeds
    ]
    specs.append(
        spec(
            contract.quarantine_table,
            "Every rejected bronze row of the contract's feeds: raw values, source line and reason codes.",
            quarantine_schema(contract),
        )
    )

    @dg.multi_asset(name=f"{contract.name}_silver", specs=specs, **op_policy(SILVER, start))
    def silver(context: dg.AssetExecutionContext, warehouse: Warehouse):
        started = time.perf_counter()
        totals = {name: RangeTotals() for name in [*(feed.name for feed in contract.feeds), contract.quarantine_table]}
        with warehouse.session() as session:
            bronze = [f"{BRONZE}.{feed.name}" for feed in contract.feeds]
            for chunk in warehouse.slices(session.rows_by_day(days_in(*context.partition_time_window), *bronze)):
                _silver_slice(context, contract, session, chunk, totals)
        for feed in contract.feeds:
            result = totals[feed.name]
            reasons = dict(sorted(result.reasons.items()))
            log.info("silver %s: %d valid, %d quarantined", feed.name, result.rows_out, result.rows_rejected)
            yield dg.MaterializeResult(
                asset_key=table_key(SILVER, feed.name),
                metadata=result.metadata(started, declared=silver_schema(feed), reasons=dg.MetadataValue.json(reasons)),
            )
        quarantine = totals[contract.quarantine_table]
        yield dg.MaterializeResult(
            asset_key=table_key(SILVER, contract.quarantine_table),
            metadata=quarantine.metadata(started, declared=quarantine_schema(contract)),
        )

    return silver


def _silver_slice(context, contract: Contract, session: WarehouseSession, days: list, totals: dict) -> None:
    """Validates a slice of days of every feed and commits the feeds' tables and the quarantine together: every bronze
    row is in one of them, or none changed."""
    bronze = {feed.name: session.read_days(f"{BRONZE}.{feed.name}", days) for feed in contract.feeds}
    results = {feed.name: validate_feed(bronze[feed.name], feed) for feed in contract.feeds}
    quarantine = pl.concat([result.quarantine for result in results.values()], how="vertical")
    tables = {f"{SILVER}.{name}": result.valid for name, result in results.items()}
    tables[f"{SILVER}.{contract.quarantine_table}"] = quarantine
    session.replace_days(tables, DaysWrite.of_days(days, context.run_id))
    for name, result in results.items():
        daily_counts(context, result.valid, bronze[name], result.quarantine, table_key(SILVER, name), days=days)
        totals[name].add(result.valid, rows_in=bronze[name].height, rows_rejected=result.quarantine.height)
        totals[name].reasons.update(result.reason_counts())
    daily_counts(context, quarantine, asset_key=table_key(SILVER, contract.quarantine_table), days=days)
    totals[contract.quarantine_table].add(quarantine)
