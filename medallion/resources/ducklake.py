"""DuckLake: the warehouse's tables in Parquet files under a data path, their catalog in PostgreSQL, so several
processes can write at once. The extensions come from PyPI packages (no download at run time) and load only into
the DuckDB version they were built for."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb

from medallion.settings import LAKE_CATALOG_URL_VAR, SettingsError

CATALOG = "lake"
EXTENSIONS = {"ducklake": "duckdb_extension_ducklake", "postgres_scanner": "duckdb_extension_postgres_scanner"}


class LakeConnectionError(RuntimeError):
    """The DuckLake catalog could not be attached; the message names host and database, never the password."""


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
            connection.execute(f"attach 'ducklake:postgres:{conninfo}' as {CATALOG} (data_path '{data}')")
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
