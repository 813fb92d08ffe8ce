"""Concurrent writes to the same DuckLake tables (runs on several workers writing disjoint days), on a real PostgreSQL
catalog: every writer commits with its own rows and ledger rows, a write that loses a commit conflict runs again
whole, and any other error is raised at once. DuckLake's error texts below were captured from the pinned extension."""

from __future__ import annotations

import logging
import multiprocessing
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest

from medallion.resources import table_writes
from medallion.resources.ducklake import conflicting_table, connect_lake, is_commit_conflict
from medallion.resources.table_writes import LEDGER, ConcurrentCommitError, DaysWrite, replace_days

DAY0 = date(2025, 3, 1)
TABLES = ("s.readings", "t.quarantine")
WRITERS, DAYS_EACH, ROWS = 3, 2, 50


def writer_days(writer: int) -> list[date]:
    return [DAY0 + timedelta(days=DAYS_EACH * writer + i) for i in range(DAYS_EACH)]


def frame(days: list[date], writer: int, write: int, rows: int = ROWS) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partition_date": [day for day in days for _ in range(rows)],
            "writer": [writer] * (rows * len(days)),
            "write": [write] * (rows * len(days)),
            "x": list(range(rows)) * len(days),
        }
    )


def write_twice(url: str, data: str, writer: int, barrier) -> None:
    """One worker: attaches the new catalog, creates the tables with its days, then replaces them; every step at the
    same moment as the others (the catalog's first attach, creates, deletes and inserts on the same tables)."""
    barrier.wait(timeout=120)
    connection = connect_lake(url, data)
    days = writer_days(writer)
    replace_days(connection, dict.fromkeys(TABLES, frame(days, writer, 1)), DaysWrite.of_days(days, f"run-{writer}-1"))
    barrier.wait(timeout=120)
    second = frame(days, writer, 2)
    if writer == 0:  # a feature-set change on one worker: its write widens the tables the others insert into
        second = second.with_columns(pl.lit("wider").alias("note"))
    replace_days(connection, dict.fromkeys(TABLES, second), DaysWrite.of_days(days, f"run-{writer}-2"))
    connection.close()


def test_writers_on_several_processes_replacing_disjoint_days_of_the_same_tables_all_commit(pg_url, tmp_path):
    data = str(tmp_path / "lake")
    context = multiprocessing.get_context("spawn")  # processes, as on several workers; no catalog attached yet
    barrier = context.Barrier(WRITERS)
    writers = [context.Process(target=write_twice, args=(pg_url, data, i, barrier)) for i in range(WRITERS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=180)
        if writer.is_alive():
            writer.kill()
    assert [writer.exitcode for writer in writers] == [0] * WRITERS

    connection = connect_lake(pg_url, data)
    for table in TABLES:
        rows = connection.sql(
            f"select partition_date, writer, write, count(*), count(distinct x) from {table} group by all order by 1"
        ).fetchall()
        expected = [(day, w, 2, ROWS, ROWS) for w in range(WRITERS) for day in writer_days(w)]
        assert rows == expected, table  # each day exactly its writer's second write: nothing lost, nothing twice
        notes = connection.sql(f"select writer, note from {table} group by all order by 1").fetchall()
        assert notes == [(0, "wider"), *((w, None) for w in range(1, WRITERS))]
    ledger = connection.sql(
        f"select table_name, partition_date, run_id, count(*), count(distinct write_id) from {LEDGER} group by all"
    ).fetchall()
    expected = {
        (table, day, f"run-{w}-{write}", 1, 1)
        for table in TABLES
        for w in range(WRITERS)
        for day in writer_days(w)
        for write in (1, 2)
    }
    assert sorted(ledger) == sorted(expected)  # one row per table, day and write: none from a lost attempt
    connection.close()


class Interfering:
    """A connection whose first commit comes after another writer's commit on the same tables, as when two workers
    commit at the same moment; counts the transactions it begins."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, competitor) -> None:
        self.connection, self.competitor, self.begun = connection, competitor, 0

    def execute(self, sql: str, *args):
        if sql == "begin transaction":
            self.begun += 1
        if sql == "commit" and self.competitor is not None:
            competitor, self.competitor = self.competitor, None
            competitor()
        return self.connection.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.connection, name)


@pytest.fixture
def seeded(pg_url, tmp_path):
    """A lake whose tables hold the first 4 days (write 0); two connections with their own transactions."""
    data = str(tmp_path / "lake")
    first, second = connect_lake(pg_url, data), connect_lake(pg_url, data)
    days = [DAY0 + timedelta(days=i) for i in range(4)]
    replace_days(first, {"s.a": frame(days, 9, 0), "s.b": frame(days, 9, 0)}, DaysWrite.of_days(days))
    yield first, second
    first.close()
    second.close()


def test_a_write_losing_a_commit_conflict_runs_again_whole_and_commits_once(seeded, caplog):
    first, second = seeded
    mine, theirs = [DAY0], [DAY0 + timedelta(days=1)]

    def competitor() -> None:
        replace_days(second, {"s.a": frame(theirs, 2, 1), "s.b": frame(theirs, 2, 1)}, DaysWrite.of_days(theirs))

    connection = Interfering(first, competitor)
    with caplog.at_level(logging.WARNING, logger="medallion.etl"):
        write_id = replace_days(
            connection, {"s.a": frame(mine, 1, 1), "s.b": frame(mine, 1, 1)}, DaysWrite.of_days(mine, "mine")
        )

    assert connection.begun == 2  # the lost attempt, then the whole write again
    retries = [record.getMessage() for record in caplog.records if "concurrent commit" in record.getMessage()]
    assert len(retries) == 1
    assert "concurrent commit on s.a: writing day 2025-03-01 lost attempt 1 of 8" in retries[0]
    assert "another transaction has deleted" in retries[0]
    for table in ("s.a", "s.b"):
        rows = first.sql(f"select partition_date, writer, count(*) from {table} group by all order by 1").fetchall()
        assert rows == [
            (DAY0, 1, ROWS),
            (theirs[0], 2, ROWS),
            (DAY0 + timedelta(days=2), 9, ROWS),
            (DAY0 + timedelta(days=3), 9, ROWS),
        ]
    ledger = first.execute(
        f"select table_name, partition_date, write_id from {LEDGER} where run_id = 'mine'"
    ).fetchall()
    assert sorted(ledger) == [("s.a", DAY0, write_id), ("s.b", DAY0, write_id)]  # once, from the attempt that committed


def test_a_write_losing_every_attempt_says_it_was_a_concurrent_commit_conflict_naming_tables_and_days(
    seeded, monkeypatch
):
    first, second = seeded
    monkeypatch.setattr(table_writes, "COMMIT_ATTEMPTS", 2)
    monkeypatch.setattr(table_writes, "BACKOFF_SECONDS", 0.01)
    theirs = [DAY0 + timedelta(days=3)]

    class AlwaysInterfering(Interfering):
        def execute(self, sql: str, *args):
            if sql == "commit":
                replace_days(second, {"s.a": frame(theirs, 2, 1)}, DaysWrite.of_days(theirs))
            return super().execute(sql, *args)

    connection = AlwaysInterfering(first, None)
    days = [DAY0, DAY0 + timedelta(days=1)]
    with pytest.raises(ConcurrentCommitError) as raised:
        replace_days(connection, {"s.a": frame(days, 1, 1), "s.b": frame(days, 1, 1)}, DaysWrite.of_days(days))

    message = str(raised.value)
    assert message.startswith("concurrent-commit conflict")
    assert "days 2025-03-01..2025-03-02" in message and "s.a, s.b" in message and "lost all 2 attempts" in message
    assert connection.begun == 2
    assert first.sql("select count(*) from s.b where writer = 1").fetchone() == (0,)  # nothing of it committed


def test_an_error_other_than_a_conflict_is_raised_at_once_and_never_retried(seeded, caplog):
    first, _ = seeded
    connection = Interfering(first, None)
    bad = frame([DAY0], 1, 1).with_columns(pl.lit("not a number").alias("x"))  # fails the insert inside the write
    with caplog.at_level(logging.WARNING, logger="medallion.etl"), pytest.raises(duckdb.ConversionException):
        replace_days(connection, {"s.a": frame([DAY0], 1, 1), "s.b": bad}, DaysWrite.of_days([DAY0]))

    assert connection.begun == 1
    assert not [record for record in caplog.records if "concurrent commit" in record.getMessage()]
    assert first.sql("select count(*) from s.a where writer = 1").fetchone() == (0,)  # rolled back, s.a with it


def test_a_failed_commit_that_is_not_a_conflict_is_never_retried(seeded):
    first, _ = seeded

    class CatalogGone(Interfering):
        def execute(self, sql: str, *args):
            if sql == "commit":
                self.connection.execute("rollback")
                raise duckdb.TransactionException(CATALOG_DOWN_AT_COMMIT)
            return super().execute(sql, *args)

    connection = CatalogGone(first, None)
    with pytest.raises(duckdb.TransactionException, match="ROLLBACK"):
        replace_days(connection, {"s.a": frame([DAY0], 1, 1)}, DaysWrite.of_days([DAY0]))
    assert connection.begun == 1


PREFIX = "TransactionContext Error: Failed to commit: Failed to commit DuckLake transaction.\n"
# The first four captured from the pinned DuckLake: 3 processes replacing disjoint days of one seeded table, a table
# created by three at once, a column added by one while the others insert, two cursors of one process on inlined rows;
# the last (DuckLake's own retries of a taken snapshot id running out) in the wording of the extension's source.
CONFLICTS = [
    'Transaction conflict - attempting to insert into table with index "2" - but another transaction has deleted '
    "from it",
    'Transaction conflict - attempting to create table "a" in schema "n" - but this table has been created by another '
    "transaction already",
    'Transaction conflict - attempting to insert into table with index "2" - but another transaction has altered it',
    'Transaction conflict - attempting to insert into table with index "2" - but another transaction has deleted '
    "inlined data from it",
    "Exceeded the maximum retry count of 10 set by the ducklake_max_retry_count setting.\n. Consider increasing the "
    'value with: e.g., "SET ducklake_max_retry_count = 100;"\nduplicate key value violates unique constraint',
]
# The first two captured (the catalog's PostgreSQL stopped before a commit, and before a write's first statement), the
# others in the wording DuckDB gives them.
CATALOG_DOWN_AT_COMMIT = 'TransactionContext Error: Failed to commit: Failed to execute query "ROLLBACK": '
NOT_CONFLICTS = [
    duckdb.TransactionException(CATALOG_DOWN_AT_COMMIT),
    duckdb.IOException(
        'IO Error: Failed to query most recent snapshot for DuckLake: Unable to connect to Postgres at "dbname=d '
        'host=127.0.0.1 port=5432 user=postgres": connection to server at "127.0.0.1", port 5432 failed: Connection '
        "refused"
    ),
    duckdb.IOException(PREFIX + "Failed to flush changes into DuckLake: could not write: No space left on device"),
    duckdb.IOException('IO Error: Could not write file "/lake/s/a/f.parquet": No space left on device'),
    duckdb.TransactionException('TransactionContext Error: Catalog write-write conflict on create with "t"'),  # a file
    RuntimeError(PREFIX + CONFLICTS[0]),  # not DuckDB's
]


@pytest.mark.parametrize("reason", CONFLICTS)
def test_the_conflict_recogniser_knows_ducklakes_commit_conflicts(reason):
    assert is_commit_conflict(duckdb.TransactionException(PREFIX + reason))


@pytest.mark.parametrize("error", NOT_CONFLICTS, ids=lambda error: str(error)[:40])
def test_the_conflict_recogniser_takes_no_other_error_for_one(error):
    assert not is_commit_conflict(error)


def test_a_conflict_on_creating_a_table_names_the_table():
    assert conflicting_table(None, duckdb.TransactionException(PREFIX + CONFLICTS[1])) == "n.a"
