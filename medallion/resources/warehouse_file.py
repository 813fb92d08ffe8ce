"""Why the DuckDB warehouse file did not open: another process's lock (worth waiting for) or anything else (a damaged
file, a file from another DuckDB version: no wait helps, so say which file, what is wrong and how to recover).

Free of Dagster, so that `medallion status` and `medallion rebuild-warehouse` stay quick to start."""

from __future__ import annotations

import shlex
from pathlib import Path

import duckdb

# What duckdb 1.5 raises (all duckdb.IOException), tried for real: another process holding the file; random bytes
# in a database header ("Corrupt database file: computed checksum ... in block at location 4096", no file name);
# random bytes in the main header, an empty or a text file ("... exists, but it is not a valid DuckDB database
# file!"); a truncated file ("Could not read enough bytes from file ..."); a file of another storage version.
LOCK_CONFLICT = "Could not set lock on file"
DAMAGE_SIGNS = ("Corrupt database file", "not a valid DuckDB database file", "Could not read enough bytes")
OTHER_VERSION_SIGN = "Trying to read a database file with version number"


class WarehouseFileError(RuntimeError):
    """The warehouse file cannot be opened, and waiting will not change that."""

    def __init__(self, database: str | Path, problem: str, recovery: str | None = None):
        self.database, self.problem, self.recovery = str(database), problem, recovery
        super().__init__(f"warehouse {database} {problem}" + (f". Recover: {recovery}" if recovery else ""))

    def __reduce__(self):  # picklable with its parts, like any exception that crosses a process boundary
        return type(self), (self.database, self.problem, self.recovery)


def is_lock_conflict(error: BaseException) -> bool:
    return LOCK_CONFLICT in str(error)


def rebuild_command(database: str | Path) -> str:
    return f"medallion rebuild-warehouse --home {shlex.quote(str(Path(database).parent))}"


def unopenable(database: str | Path, error: duckdb.Error) -> WarehouseFileError:
    """The error to raise for a warehouse file that did not open for a reason other than a lock."""
    message = str(error)
    reason = message.splitlines()[0] if message else type(error).__name__
    rebuild = f"rebuild it from the landing files with `{rebuild_command(database)}`"
    if any(sign in message for sign in DAMAGE_SIGNS):
        return WarehouseFileError(
            database,
            f"is damaged, not locked: DuckDB cannot read it ({reason})",
            f"restore the file from a backup, or {rebuild} (it moves the damaged file aside, never deletes it)",
        )
    if OTHER_VERSION_SIGN in message:
        return WarehouseFileError(
            database,
            f"was written by another DuckDB version, not this project's {duckdb.__version__} ({reason})",
            f"export it with the DuckDB that wrote it (EXPORT DATABASE), or {rebuild}",
        )
    return WarehouseFileError(database, f"cannot be opened, and not because of a lock ({reason})")


def connect_read_only(database: str | Path) -> duckdb.DuckDBPyConnection:
    """The file opened read-only. Raises WarehouseFileError unless it opens or another process holds it (then
    duckdb.IOException, unchanged)."""
    try:
        return duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        if is_lock_conflict(error):
            raise
        raise unopenable(database, error) from None
