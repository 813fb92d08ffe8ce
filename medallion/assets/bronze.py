"""Bronze: each feed's landed rows as text, with lineage (file, line, delivery, ingestion, row hash), and the manifest
of every file seen under its day folders (`bronze.<feed>_files`), committed together."""

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.contract import FeedSpec
from medallion.contract.catalog import bronze_schema
from medallion.logic.etl.ingestion import file_manifest, read_landing_day
from medallion.names import BRONZE, manifest_table, table_key
from medallion.policies import op_policy
from medallion.resources.landing import LandingZone
from medallion.resources.table_writes import DaysWrite
from medallion.resources.warehouse import Warehouse
from medallion.sources.landing import RefusedLandingFiles
from medallion.utils.dates import day_spans, days_in
from medallion.utils.table_metadata import RangeTotals, daily_counts

log = logging.getLogger("medallion.etl")


def build_bronze_asset(feed: FeedSpec, start: date) -> dg.AssetsDefinition:
    manifest = f"{BRONZE}.{manifest_table(feed.name)}"

    @dg.asset(
        key=table_key(BRONZE, feed.name),
        description=f"Records of `landing/{feed.name}/<day>/` files exactly as landed (each record's text and its "
        f"file's header), with lineage columns; silver splits them into the contract's columns. `{manifest}` lists "
        "every file seen under each day folder, read or ignored, committed with the records.",
        tags={"feed": feed.name},
        metadata={"dagster/column_schema": bronze_schema(feed)},
        **op_policy(BRONZE, start),
    )
    def bronze(context: dg.AssetExecutionContext, landing: LandingZone, warehouse: Warehouse) -> dg.MaterializeResult:
        started = time.perf_counter()
        ingested_at = datetime.now(UTC)
        days = days_in(*context.partition_time_window)
        scans = {day: landing.scan(feed.name, day) for day in days}
        refused = {path: why for scan in scans.values() for path, why in scan.refused.items()}
        if refused:  # before anything is read: the run fails naming every such file, and writes nothing
            raise RefusedLandingFiles(refused)
        totals, tally, header_issues = RangeTotals(), _FileTally(), {}
        with warehouse.session() as session:

            def commit(chunk: list[_LandedDay]) -> None:
                frame = pl.concat([landed.frame for landed in chunk], how="vertical")
                files = pl.concat([landed.files for landed in chunk], how="vertical")
                days_written = [landed.day for landed in chunk]
                write = DaysWrite.of_days(days_written, context.run_id)
                session.replace_days({f"{BRONZE}.{feed.name}": frame, manifest: files}, write)
                seconds = {landed.day: landed.seconds for landed in chunk}
                daily_counts(context, frame, seconds=seconds, files=files, days=days_written)
                totals.add(frame)
                tally.add(frame, files)

            # Read a day at a time, committed in slices of at most `slice_rows` rows: memory holds one slice.
            chunk: list[_LandedDay] = []
            for day in days:
                day_started = time.perf_counter()
                frame, reports = read_landing_day(scans[day].read, feed.column_names, day, ingested_at)
                header_issues.update({path: r.issue for path, r in reports.items() if r.issue})
                files = file_manifest(day, scans[day].read, scans[day].ignored, frame)
                if chunk and sum(landed.frame.height for landed in chunk) + frame.height > warehouse.slice_rows:
                    commit(chunk)
                    chunk = []
                chunk.append(_LandedDay(day, frame, files, time.perf_counter() - day_started))
            commit(chunk)
        _log_files(feed.name, scans, totals.rows_out)
        return dg.MaterializeResult(
            metadata=totals.metadata(
                started,
                declared=bronze_schema(feed),
                files=tally.files_read,
                ignored_files=dg.MetadataValue.json(tally.ignored),
                malformed_lines=tally.malformed,
                header_issues=dg.MetadataValue.json(header_issues),
            ),
        )

    return bronze


@dataclass(frozen=True)
class _LandedDay:
    day: date
    frame: pl.DataFrame
    files: pl.DataFrame
    seconds: float


@dataclass
class _FileTally:
    """The run's files read and ignored, and its malformed lines, over its slices."""

    files_read: int = 0
    malformed: int = 0
    ignored: dict[str, str] = field(default_factory=dict)

    def add(self, frame: pl.DataFrame, files: pl.DataFrame) -> None:
        self.files_read += files.filter(pl.col("status") == "read").height
        self.malformed += int(frame["_parse_error"].is_not_null().sum())
        self.ignored.update(files.filter(pl.col("status") == "ignored").select("file", "reason").iter_rows())


def _log_files(feed: str, scans: dict, rows: int) -> None:
    """One line each per run, not per day: a long backfill's log stays readable; files_arrived judges each day."""
    read = sum(len(scan.read) for scan in scans.values())
    log.info("bronze %s: %d rows from %d file(s)", feed, rows, read)
    missing = [day for day, scan in scans.items() if not scan.read]
    if missing:
        log.warning("no %s file landed for %d day(s): %s", feed, len(missing), day_spans(missing))
    ignored = [f"{path} ({why})" for scan in scans.values() for path, why in scan.ignored.items()]
    if ignored:
        log.warning("%d %s file(s) not read by rule: %s", len(ignored), feed, "; ".join(ignored[:10]))
