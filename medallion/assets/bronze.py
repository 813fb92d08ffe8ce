"""Bronze: each feed's landed rows as text, with lineage (file, line, delivery, ingestion, row hash)."""

import logging
import time
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.contract import FeedSpec
from medallion.contract.catalog import bronze_schema
from medallion.logic.etl.ingestion import read_landing_day
from medallion.names import BRONZE, table_key
from medallion.policies import op_policy
from medallion.resources.landing import LandingZone
from medallion.utils.dates import day_spans, days_in
from medallion.utils.table_metadata import daily_counts, table_metadata

log = logging.getLogger("medallion.etl")


def build_bronze_asset(feed: FeedSpec, start: date) -> dg.AssetsDefinition:
    @dg.asset(
        key=table_key(BRONZE, feed.name),
        description=f"Records of `landing/{feed.name}/<day>/*.csv` exactly as landed (each record's text and its "
        "file's header), with lineage columns; silver splits them into the contract's columns.",
        tags={"feed": feed.name},
        metadata={"dagster/column_schema": bronze_schema(feed)},
        **op_policy(BRONZE, start),
    )
    def bronze(context: dg.AssetExecutionContext, landing: LandingZone) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        ingested_at = datetime.now(UTC)
        frames, files, header_issues, seconds, missing = [], [], {}, {}, []
        for day in days_in(*context.partition_time_window):
            day_started = time.perf_counter()
            day_files = landing.files(feed.name, day)
            if not day_files:
                missing.append(day)
            frame, reports = read_landing_day(day_files, feed.column_names, day, ingested_at)
            frames.append(frame)
            files += [str(p) for p in day_files]
            header_issues.update({path: r.issue for path, r in reports.items() if r.issue})
            seconds[day] = time.perf_counter() - day_started
        frame = pl.concat(frames, how="vertical")
        log.info("bronze %s: %d rows from %d file(s)", feed.name, frame.height, len(files))
        if missing:
            # One line per run, not per day: a long backfill's log stays readable; files_arrived judges each day.
            log.warning("no %s file landed for %d day(s): %s", feed.name, len(missing), day_spans(missing))
        daily_counts(context, frame, seconds=seconds)
        return dg.Output(
            frame,
            metadata=table_metadata(
                frame,
                started,
                rows_in=frame.height,
                declared=bronze_schema(feed),
                files=len(files),
                malformed_lines=frame["_parse_error"].is_not_null().sum(),
                header_issues=dg.MetadataValue.json(header_issues),
            ),
        )

    return bronze
