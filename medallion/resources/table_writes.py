"""Writing a step's days: every table the step writes for its days commits in one transaction, with one row per table
and day appended to the write ledger, which readers use to refuse a day built from an upstream write since replaced.

Why one transaction for several tables: silver's tables and its quarantine must agree for a day (every bronze row in
one of them); written one by one, a disk-full error or a kill between two writes left rows in neither.

Concurrent writers on a DuckLake (runs on several workers writing disjoint days of the same tables) conflict at
commit: DuckLake judges conflicts per table, so a commit inserting into a table fails when another transaction
deleted from it (or widened it, or created it first) since this one began; without a retry 1 or 2 of 3 such writers
committed. The write then runs again whole, on that conflict alone, up to COMMIT_ATTEMPTS times with jittered backoff:
the failed commit left nothing behind, and the write replaces its days (delete, then insert), so running it again
gives the same rows and the ledger rows once. Chosen over serialising commits per table (a pool or a lock): every run
writes the same tables, so a lock held over a write would queue the workers one behind another, while a retry
redoes only the losing write, and only while writers collide. Any other error (disk full, catalog unreachable) is
raised at once, as on a DuckDB file, where nothing changes.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from medallion.resources.ducklake import conflict_reason, conflicting_table, is_commit_conflict

log = logging.getLogger("medallion.etl")

LEDGER_SCHEMA, LEDGER_TABLE = "meta", "partition_writes"
LEDGER = f"{LEDGER_SCHEMA}.{LEDGER_TABLE}"
LEDGER_COLUMNS = (
    "table_name varchar, partition_date date, rows bigint, write_id varchar, run_id varchar, written_at timestamptz"
)


# A write that loses to concurrent commits is tried this many times in all, waiting a random time of up to
# BACKOFF_SECONDS · 2^(attempt-1), at most BACKOFF_CAP_SECONDS, before each retry: 15.75 s of waiting at most.
COMMIT_ATTEMPTS = 8
BACKOFF_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 4.0


class StaleDaysError(RuntimeError):
    """A table's days were built from an upstream write that has since been replaced."""


class ConcurrentCommitError(RuntimeError):
    """A write lost every attempt to other writers' commits on the same DuckLake tables; nothing of it committed."""


def as_arrow(frame: pl.DataFrame):
    """The frame as Arrow without copying its text: Polars' string views pass as Arrow string views, which DuckDB
    reads; the default (large_string) copies every value (533 MB for a 1M-row bronze day)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


@dataclass(frozen=True)
class DaysWrite:
    """What a write replaces: the rows matching `where` (its days) in each table; `days` get ledger rows."""

    where: str
    days: list[date]
    run_id: str | None = None

    @classmethod
    def of_days(cls, days: list[date], run_id: str | None = None) -> DaysWrite:
        return cls(f"partition_date between '{min(days)}' and '{max(days)}'", days, run_id)


def replace_days(connection: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame], write: DaysWrite) -> str:
    """Replaces `write`'s days in every `schema.table` of `tables` with its frame, all in one transaction, and returns
    the write's id. A table is created from its frame's schema when missing; a frame with new columns widens it. On a
    DuckLake, a write that loses to a concurrent commit on the same tables runs again (see the module's docstring)."""
    arrows = {target: as_arrow(frame) for target, frame in tables.items()}
    write_id = uuid.uuid4().hex
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            _create_missing(connection, arrows)
            _replace(connection, tables, arrows, write, write_id)
            return write_id
        except duckdb.Error as error:
            if not is_commit_conflict(error):
                raise
            table = conflicting_table(connection, error) or ", ".join(tables)
            if attempt == COMMIT_ATTEMPTS:
                raise ConcurrentCommitError(
                    f"concurrent-commit conflict: writing {_days_of(write)} of {', '.join(tables)} lost all "
                    f"{COMMIT_ATTEMPTS} attempts to other writers' commits on {table}; nothing of it was committed, "
                    f"rerun the step (DuckLake: {conflict_reason(error)})"
                ) from error
            delay = random.uniform(0, min(BACKOFF_SECONDS * 2 ** (attempt - 1), BACKOFF_CAP_SECONDS))
            log.warning(
                "concurrent commit on %s: writing %s lost attempt %d of %d, retrying in %.2f s (DuckLake: %s)",
                table,
                _days_of(write),
                attempt,
                COMMIT_ATTEMPTS,
                delay,
                conflict_reason(error),
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


def _create_missing(connection: duckdb.DuckDBPyConnection, arrows: Mapping[str, object]) -> None:
    """Creates missing schemas and tables, each in a commit of its own: a write's transaction then only changes
    rows and columns. Two writers creating one table at once conflict on a DuckLake; the loser's retry finds it."""
    for target, arrow in arrows.items():
        connection.register("incoming", arrow)
        try:
            connection.execute(f"create schema if not exists {target.split('.')[0]}")
            connection.execute(f"create table if not exists {target} as select * from incoming limit 0")
        finally:
            connection.unregister("incoming")
    connection.execute(f"create schema if not exists {LEDGER_SCHEMA}")
    connection.execute(f"create table if not exists {LEDGER} ({LEDGER_COLUMNS})")


def _replace(
    connection: duckdb.DuckDBPyConnection,
    tables: Mapping[str, pl.DataFrame],
    arrows: Mapping[str, object],
    write: DaysWrite,
    write_id: str,
) -> None:
    """One attempt: every table's days and the ledger rows in one transaction, rolled back whole on any error."""
    connection.execute("begin transaction")
    try:
        for target, arrow in arrows.items():
            connection.register("incoming", arrow)
            _widen(connection, target)
            connection.execute(f"delete from {target} where {write.where}")
            connection.execute(f"insert into {target} by name select * from incoming")
            connection.unregister("incoming")
        _record(connection, tables, write, write_id)
        connection.execute("commit")
    except BaseException as error:
        if is_commit_conflict(error):
            _end_conflicted(connection, error)
        else:
            _rollback(connection, error)
        raise


def _days_of(write: DaysWrite) -> str:
    days = sorted(write.days)
    if not days:
        return f"the rows where {write.where}"
    if len(days) == 1:
        return f"day {days[0]}"
    return f"days {days[0]}..{days[-1]} ({len(days)} days)"


def _widen(connection: duckdb.DuckDBPyConnection, target: str) -> None:
    """A frame with new columns (a feature-set change) widens the table; older rows read them as null."""
    stored = {name.lower() for name in connection.sql(f"select * from {target} limit 0").columns}
    incoming = connection.sql("select * from incoming limit 0")
    for name, dtype in zip(incoming.columns, incoming.types, strict=True):
        if name.lower() not in stored:
            connection.execute(f'alter table {target} add column "{name}" {dtype}')


def _record(connection, tables: Mapping[str, pl.DataFrame], write: DaysWrite, write_id: str) -> None:
    if not write.days:
        return
    written_at = datetime.now(UTC)
    rows = []
    for target, frame in tables.items():
        counts = dict(frame.group_by("partition_date").len().iter_rows()) if "partition_date" in frame.columns else {}
        rows += [(target, day, counts.get(day, 0), write_id, write.run_id, written_at) for day in write.days]
    ledger = pl.DataFrame(
        rows,
        schema={
            "table_name": pl.String,
            "partition_date": pl.Date,
            "rows": pl.Int64,
            "write_id": pl.String,
            "run_id": pl.String,
            "written_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    # Appended, never updated: concurrent runs on a DuckLake then never touch the same rows (a delete there conflicts
    # with another transaction's insert), and the ledger keeps each day's history; readers take the latest row.
    connection.register("ledger_rows", ledger.to_arrow())
    connection.execute(f"insert into {LEDGER} by name select * from ledger_rows")
    connection.unregister("ledger_rows")


def _rollback(connection: duckdb.DuckDBPyConnection, cause: BaseException) -> None:
    """Rolls back, keeping `cause` the error a user reads: after a fatal error (disk full) DuckDB has already ended
    the transaction, and a failing rollback would otherwise replace the cause with 'no transaction is active'."""
    try:
        connection.execute("rollback")
    except duckdb.Error as error:
        # Logged here too: when the catalog's PostgreSQL is gone, so is the event log, and this log is all that shows.
        reason = (str(cause).splitlines() or [""])[0][:300]
        log.warning(
            "write failed (%s: %s); rollback: %s (the transaction was already ended)",
            type(cause).__name__,
            reason,
            error,
        )


def _end_conflicted(connection: duckdb.DuckDBPyConnection, conflict: duckdb.Error) -> None:
    """Makes sure a transaction that lost a commit conflict is over before the write runs again. DuckLake ends it
    at the failed commit (a rollback then finds no transaction); a rollback failing otherwise leaves the connection's
    state unknown, so the write fails then, not retried."""
    try:
        connection.execute("rollback")
    except duckdb.Error as error:
        if "no transaction is active" not in str(error):
            raise ConcurrentCommitError(
                f"concurrent-commit conflict, and the rollback before a retry failed ({error}); not retried"
            ) from conflict


def stale_days(
    connection: duckdb.DuckDBPyConnection, table: str, upstream: list[str], first: date, last: date
) -> list[tuple[date, str, str | None, str | None]]:
    """Days in [first, last] whose `table` was written before one of its `upstream` tables was last written for that
    day: (day, upstream table, the upstream's run, the table's run). Days without a ledger row are not judged; the
    ledger must exist."""
    marks = ", ".join("?" for _ in upstream)
    return connection.execute(
        f"with latest as (select * from {LEDGER} where table_name in (?, {marks}) and partition_date between ? and ? "
        "qualify row_number() over (partition by table_name, partition_date order by written_at desc) = 1) "
        "select built.partition_date, source.table_name, source.run_id, built.run_id from latest built "
        "join latest source on source.partition_date = built.partition_date and source.table_name <> built.table_name "
        "where built.table_name = ? and source.written_at > built.written_at order by 1, 2",
        [table, *upstream, first, last, table],
    ).fetchall()
