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
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import days_in
from medallion.utils.table_metadata import daily_counts, table_metadata

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

    @dg.multi_asset(
        name=f"{contract.name}_silver",
        specs=specs,
        ins={f"bronze_{feed.name}": dg.AssetIn(key=key) for feed, key in zip(contract.feeds, bronze_keys, strict=True)},
        **op_policy(SILVER, start),
    )
    def silver(context: dg.AssetExecutionContext, warehouse: Warehouse, **bronze_frames: pl.DataFrame):
        started = time.perf_counter()
        results = {feed.name: validate_feed(bronze_frames[f"bronze_{feed.name}"], feed) for feed in contract.feeds}
        quarantine = pl.concat([result.quarantine for result in results.values()], how="vertical")
        # The feeds' tables and the quarantine commit together: every bronze row is in one of them, or none changed.
        tables = {f"{SILVER}.{name}": result.valid for name, result in results.items()}
        tables[f"{SILVER}.{contract.quarantine_table}"] = quarantine
        warehouse.replace_days(tables, DaysWrite.of_days(days_in(*context.partition_time_window), context.run_id))
        for feed in contract.feeds:
            bronze, result = bronze_frames[f"bronze_{feed.name}"], results[feed.name]
            log.info("silver %s: %d valid, %d quarantined", feed.name, result.valid.height, result.quarantine.height)
            daily_counts(context, result.valid, bronze, result.quarantine, asset_key=table_key(SILVER, feed.name))
            yield dg.MaterializeResult(
                asset_key=table_key(SILVER, feed.name),
                metadata=table_metadata(
                    result.valid,
                    started,
                    rows_in=bronze.height,
                    rows_rejected=result.quarantine.height,
                    declared=silver_schema(feed),
                    reasons=dg.MetadataValue.json(result.reason_counts()),
                ),
            )
        quarantine_key = table_key(SILVER, contract.quarantine_table)
        daily_counts(context, quarantine, asset_key=quarantine_key)
        yield dg.MaterializeResult(
            asset_key=quarantine_key,
            metadata=table_metadata(
                quarantine, started, rows_in=quarantine.height, declared=quarantine_schema(contract)
            ),
        )

    return silver
