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
from medallion.utils.table_metadata import daily_counts, table_metadata

log = logging.getLogger("medallion.etl")


def build_silver_assets(contract: Contract, start: date) -> dg.AssetsDefinition:
    def out(table: str, description: str, schema: dg.TableSchema) -> dg.AssetOut:
        return dg.AssetOut(
            key=table_key(SILVER, table),
            description=description,
            is_required=True,
            metadata={"dagster/column_schema": schema},
        )

    outs = {
        feed.name: out(
            feed.name,
            f"{feed.name} typed per the {contract.name} contract, valid rows only, one per {feed.key} and day "
            "(latest delivery wins).",
            silver_schema(feed),
        )
        for feed in contract.feeds
    }
    outs["quarantine"] = out(
        contract.quarantine_table,
        "Every rejected bronze row of the contract's feeds: raw values, source line and reason codes.",
        quarantine_schema(contract),
    )

    @dg.multi_asset(
        name=f"{contract.name}_silver",
        outs=outs,
        ins={f"bronze_{feed.name}": dg.AssetIn(key=table_key(BRONZE, feed.name)) for feed in contract.feeds},
        **op_policy(SILVER, start),
    )
    def silver(context: dg.AssetExecutionContext, **bronze_frames: pl.DataFrame):
        started = time.perf_counter()
        quarantined = []
        for feed in contract.feeds:
            bronze = bronze_frames[f"bronze_{feed.name}"]
            result = validate_feed(bronze, feed)
            quarantined.append(result.quarantine)
            log.info("silver %s: %d valid, %d quarantined", feed.name, result.valid.height, result.quarantine.height)
            daily_counts(context, result.valid, bronze, result.quarantine, asset_key=table_key(SILVER, feed.name))
            yield dg.Output(
                result.valid,
                output_name=feed.name,
                metadata=table_metadata(
                    result.valid,
                    started,
                    rows_in=bronze.height,
                    rows_rejected=result.quarantine.height,
                    declared=silver_schema(feed),
                    reasons=dg.MetadataValue.json(result.reason_counts()),
                ),
            )
        quarantine = pl.concat(quarantined, how="vertical")
        daily_counts(context, quarantine, asset_key=table_key(SILVER, contract.quarantine_table))
        yield dg.Output(
            quarantine,
            output_name="quarantine",
            metadata=table_metadata(
                quarantine, started, rows_in=quarantine.height, declared=quarantine_schema(contract)
            ),
        )

    return silver
