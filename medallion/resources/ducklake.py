"""DuckLake: the warehouse's tables in Parquet files under a data path, their catalog in PostgreSQL, so several
processes can write at once. The extensions come from PyPI packages (no download at run time) and load only into
the DuckDB version they were built for.

Writers on several processes meet DuckLake's optimistic concurrency: it checks conflicts per table at commit, so a
commit fails when another transaction committed a delete from (or an alter of) a table it inserts into, or created the
same table first (`is_commit_conflict`); nothing of the failed transaction is committed. Measured on the pinned
extension (duckdb-extension-ducklake 1.5.5, DuckLake format 1.0): 3 writers replacing disjoint days of one seeded table
at once, 1 or 2 of 3 committed. table_writes retries such a write whole."""

from __future__ import annotations

import importlib
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb

from medallion.settings import LAKE_CATALOG_URL_VAR, SettingsError

CATALOG = "lake"
METADATA_CATALOG = f"__ducklake_metadata_{CATALOG}"  # DuckLake's name for the attached PostgreSQL catalog
EXTENSIONS = {"ducklake": "duckdb_extension_ducklake", "postgres_scanner": "duckdb_extension_postgres_scanner"}


class LakeConnectionError(RuntimeError):
    """The DuckLake catalog could not be attached; the message names host and database, never the password."""


# DuckLake's commit-time conflict checks ("Transaction conflict - attempting to insert into table with index "2" - but
# another transaction has deleted from it", "... has altered it", "attempting to create table "a" in schema "n" - but
# this table has been created by another transaction already") and its own retries (of a snapshot id taken by another
# commit at the same moment) running out. Both end the transaction with nothing committed.
_CONFLICT = re.compile(
    r"^Transaction conflict - attempting to .+ - but (another transaction has|this \w+ has been created by another)"
    r"|^Exceeded the maximum retry count of \d+ set by the ducklake_max_retry_count setting",
    re.MULTILINE,
)
_TABLE_INDEX = re.compile(r'^Transaction conflict - attempting to .*table with index "(\d+)"', re.MULTILINE)
_TABLE_CREATED = re.compile(r'^Transaction conflict - attempting to create table "([^"]+)" in schema "([^"]+)"', re.M)


def is_commit_conflict(error: BaseException) -> bool:
    """Whether `error` is DuckLake refusing a commit because another transaction committed a conflicting change to the
    same table (or DuckLake's own commit retries ran out): the transaction is gone whole and can run again. Never true
    for a DuckDB file's errors, a lost catalog connection, a full disk or a bad statement."""
    message = str(error)
    return (
        isinstance(error, duckdb.Error)
        and "Failed to commit DuckLake transaction." in message
        and _CONFLICT.search(message) is not None
    )


def conflict_reason(error: BaseException) -> str:
    """DuckLake's one-line reason for a commit conflict ("Transaction conflict - ...")."""
    lines = str(error).splitlines()
    return next((line for line in lines if _CONFLICT.match(line)), lines[-1] if lines else "")


def conflicting_table(connection: duckdb.DuckDBPyConnection, error: BaseException) -> str | None:
    """`schema.table` of the table a conflict names (by its DuckLake id, looked up in the catalog); None when it names
    none or the catalog cannot say."""
    created = _TABLE_CREATED.search(str(error))
    if created is not None:
        return f"{created.group(2)}.{created.group(1)}"
    found = _TABLE_INDEX.search(str(error))
    if found is None:
        return None
    try:
        row = connection.execute(
            f"select s.schema_name || '.' || t.table_name from {METADATA_CATALOG}.ducklake_table t "
            f"join {METADATA_CATALOG}.ducklake_schema s using (schema_id) "
            "where t.table_id = ? and t.end_snapshot is null and s.end_snapshot is null",
            [int(found.group(1))],
        ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def extension_file(name: str) -> Path:
    """The extension file for this DuckDB, or an error naming the package and version to install."""
    package = EXTENSIONS[name]
    requirement = f"{package.replace('_', '-')}=={duckdb.__version__}"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise SettingsError(f"the DuckLake warehouse needs the {name} extension: pip install {requirement}") from None
    path = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        built_for = sorted(p.name for p in (Path(module.__file__).parent / "extensions").glob("v*"))
        raise SettingsError(
            f"{package} holds the {name} extension for DuckDB {', '.join(built_for) or 'no version'}, but DuckDB is "
            f"{duckdb.__version__}: pip install {requirement}"
        )
    return path


def libpq_conninfo(url: str) -> tuple[str, str]:
    """`postgresql://user:password@host:port/db` → (libpq key=value string, the password to mask)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
        raise SettingsError(
            f"{LAKE_CATALOG_URL_VAR} is not a PostgreSQL URL; use postgresql://user:password@host:port/db"
        )
    fields = {
        "dbname": parts.path.strip("/"),
        "host": parts.hostname,
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }
    return " ".join(f"{k}={v}" for k, v in fields.items() if v), fields["password"]


def describe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}, database {parts.path.strip('/')!r}, user {parts.username!r}"


def connect_lake(catalog_url: str, data_path: str) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached and in use: `schema.table` names resolve in the lake. Attaching costs
    ~0.3 s (extensions, catalog round trips), so a process attaches once and hands out cursors: each is its own
    connection to the same in-memory database, with its own transactions; closing it leaves the attachment."""
    key = (catalog_url, data_path, os.getpid())
    if key not in _attached:
        _attached[key] = _attach(catalog_url, data_path)
    cursor = _attached[key].cursor()
    cursor.execute(f"use {CATALOG}")
    return cursor


_attached: dict[tuple[str, str, int], duckdb.DuckDBPyConnection] = {}


def _attach(catalog_url: str, data_path: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(config={"custom_user_agent": "dagster"})
    try:
        for name in EXTENSIONS:
            connection.execute(f"load '{extension_file(name)}'")
        conninfo, password = libpq_conninfo(catalog_url)
        if "://" not in data_path:
            Path(data_path).mkdir(parents=True, exist_ok=True)
        data = data_path.rstrip("/") + "/"
        try:
            _attach_catalog(connection, conninfo, data)
        except duckdb.Error as error:
            reason = str(error).replace(conninfo, "<catalog>")
            if password:
                reason = reason.replace(password, "***")
            raise LakeConnectionError(
                f"cannot attach the DuckLake catalog at {describe(catalog_url)} ({LAKE_CATALOG_URL_VAR}): {reason}"
            ) from None
        connection.execute(f"use {CATALOG}")
    except BaseException:
        connection.close()
        raise
    return connection


def _attach_catalog(connection: duckdb.DuckDBPyConnection, conninfo: str, data: str, attempts: int = 5) -> None:
    """Attaches the catalog. The first attach of a new catalog creates its tables: two processes doing so at once
    collide in PostgreSQL ("relation ducklake_metadata already exists", or a duplicate key in pg_type), and the loser
    attaches again to find the winner's catalog."""
    for attempt in range(1, attempts + 1):
        try:
            connection.execute(f"attach 'ducklake:postgres:{conninfo}' as {CATALOG} (data_path '{data}')")
            return
        except duckdb.Error as error:
            message = str(error)
            lost_race = "Failed to initialize DuckLake" in message and (
                "already exists" in message or "duplicate key value" in message
            )
            if not lost_race or attempt == attempts:
                raise
            time.sleep(0.1 * attempt)
