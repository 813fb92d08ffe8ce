"""The local instance's SQLite storage, with the event log's database connections kept open between writes.

Dagster's SQLite event log builds a new engine and opens a new connection for every write, and closes it after:
closing the last connection to a WAL database checkpoints it, and every commit asks SQLite for a full sync. A
single-run backfill of a year writes ~12,000 events (each day's materializations and check results), several
connections each, and that churn was most of the run (the bench's year: 226 s, of which the assets' own work 42 s;
126 s with this storage).
This storage keeps one engine per database for the index and the few runs written or read most recently, and
commits with `synchronous=NORMAL`, which in WAL mode stays consistent after any crash and, at a power loss, may lose
only the last commits. Everything else is Dagster's SQLite storage as it is.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as db
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData

from medallion.settings import dagster_home

# A webserver reads many runs' databases; only the most recent stay open, so it never holds a file per run.
OPEN_RUN_DATABASES = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> db.Engine:
        if self._engines_pid != os.getpid():  # a forked child must not share its parent's connections
            self._engines = OrderedDict()
            self._engines_pid = os.getpid()
        engine = self._engines.pop(shard, None) or _engine_for(self.conn_string_for_shard(shard))
        self._engines[shard] = engine
        runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for evicted in runs[: max(0, len(runs) - OPEN_RUN_DATABASES)]:
            self._engines.pop(evicted).dispose()
        return engine

    def register_instance(self, instance) -> None:
        # deploy/dagster.yaml names $DAGSTER_HOME as the storage's place; an instance loaded from another directory
        # (`DagsterInstance.from_config(d)`) would otherwise read and write another instance's history.
        expected = _event_logs_directory(os.path.abspath(instance.root_directory))
        if os.path.normpath(self._base_dir) != os.path.normpath(expected):
            raise dg.DagsterInvariantViolationError(
                f"storage.custom.config.base_dir: the instance in {instance.root_directory} would keep its event log "
                f"in {self._base_dir} (base_dir is $DAGSTER_HOME); set DAGSTER_HOME to the instance's directory"
            )
        super().register_instance(instance)

    def has_table(self, table_name: str) -> bool:
        # Asked before every check event; a table, once there, stays.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def wipe(self) -> None:
        self._close_engines()
        self._tables = set()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()

    def _close_engines(self) -> None:
        with self._db_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines = OrderedDict()


def _engine_for(url: str) -> db.Engine:
    # One connection kept; Dagster's schema set-up opens a second one inside the first, so a little overflow.
    engine = db.create_engine(url, pool_size=1, max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    db.event.listen(engine, "connect", _commit_without_full_sync)
    return engine


def _commit_without_full_sync(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class LocalSqliteStorage(DagsterSqliteStorage):
    """`storage: sqlite` with the pooled event log (deploy/dagster.yaml: `storage: custom:`)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PooledSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> LocalSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def open_instance(directory: str | os.PathLike) -> dg.DagsterInstance:
    """The instance in `directory` as a process with DAGSTER_HOME=`directory` sees it: deploy/dagster.yaml keeps the
    storage in $DAGSTER_HOME, which `DagsterInstance.from_config` alone does not set."""
    with dagster_home(directory) as home:
        return dg.DagsterInstance.from_config(home)
