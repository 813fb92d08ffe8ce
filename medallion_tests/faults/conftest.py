"""Fault injection: landing files with one fault each, the real definitions run over them, and the tables read back.

A fault's rows are accounted for when bronze holds one row per landed record and silver + quarantine hold them all,
each quarantined line with its reasons. After the fix (the intended files landed instead) a rerun must give the
same tables as a clean home that only ever saw the fixed files.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from medallion.definitions import build_definitions
from medallion.settings import PROJECT_DIR, Settings
from medallion.sources.landing import APPLICATION_COLUMNS
from medallion_tests.conftest import run_etl

HEADER = ",".join(APPLICATION_COLUMNS)
OUTCOME_HEADER = "ID,default_payment_next_month,outcome_date,application_date"
BASE = dict(
    zip(
        APPLICATION_COLUMNS,
        "0 50000 2 2 1 30 0 0 0 0 0 0 1000 900 800 700 600 500 100 100 100 100 100 100".split(),
        strict=True,
    )
)
# Delivery times (modification times) decide which duplicate wins, so tests set them rather than take the clock.
DELIVERED = 1_735_700_000
COMPARED = ["silver.applications", "silver.outcomes", "silver.quarantine", "gold.features", "gold.labels"]


def row(id_: int, **values: str) -> str:
    return ",".join({**BASE, "ID": str(id_), **values}.values())


def rows(ids) -> list[str]:
    return [row(i) for i in ids]


def text(*lines: str, end: str = "\n") -> bytes:
    return ("\n".join(lines) + end).encode()


def outcome(id_: int, label: int, outcome_day: date, application_day: date) -> str:
    return f"{id_},{label},{outcome_day.isoformat()},{application_day.isoformat()}"


@dataclass(frozen=True)
class Fault:
    """One fault on its own day: the files as delivered (in delivery order) and as they should have been."""

    name: str
    feed: str
    files: dict[str, bytes]
    fixed: dict[str, bytes]
    records: int  # data records landed (header and blank lines are not records)
    quarantined: dict[tuple[str, int], list[str]] = field(default_factory=dict)  # (file, line) → reasons


def land_files(home: Settings, feed: str, day: date, files: dict[str, bytes]) -> list[Path]:
    folder = home.landing_dir / feed / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, content) in enumerate(files.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        moment = DELIVERED + (day.toordinal() % 1000) * 100 + i
        os.utime(path, (moment, moment))
        paths.append(path)
    return paths


def replace_files(home: Settings, feed: str, day: date, files: dict[str, bytes]) -> None:
    """The fix: the day's folder holds exactly `files` (an operator replacing a bad delivery)."""
    folder = home.landing_dir / feed / day.isoformat()
    shutil.rmtree(folder, ignore_errors=True)
    land_files(home, feed, day, files)


def clean_home(home: Settings, root: Path) -> Settings:
    """A new home that only ever saw `home`'s landed files as they are now (same names and delivery times)."""
    clean = Settings(home=root, env="local")
    shutil.copytree(home.landing_dir, clean.landing_dir, copy_function=shutil.copy2)
    return clean


def run(home: Settings, first: date, last: date | None = None) -> dg.ExecuteInProcessResult:
    return run_etl(build_definitions(home), first, last)


def tables(home: Settings, day: date | None = None) -> dict[str, list[tuple]]:
    """Every compared table's rows (of one day), sorted, with the home's path removed from file names."""
    found = {}
    if not home.warehouse_path.exists():
        return found
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        existing = {
            f"{s}.{t}" for s, t in connection.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
        for name in COMPARED:
            if name not in existing:
                continue
            where = f"where partition_date = '{day.isoformat()}'" if day else ""
            frame = connection.execute(f"select * from {name} {where}").pl()
            frame = frame.with_columns(pl.col(pl.String).str.replace(str(home.home), "<home>", literal=True))
            found[name] = sorted(frame.rows(), key=repr)
    return found


def feed_rows(home: Settings, feed: str, day: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(bronze, silver, quarantine) rows of one feed and day."""
    where = f"where partition_date = '{day.isoformat()}'"
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        bronze = connection.execute(f"select * from bronze.{feed} {where}").pl()
        silver = connection.execute(f"select * from silver.{feed} {where}").pl()
        quarantine = connection.execute(f"select * from silver.quarantine {where} and feed = ?", [feed]).pl()
    return bronze, silver, quarantine


def reasons_by_line(quarantine: pl.DataFrame) -> dict[tuple[str, int], list[str]]:
    return {
        (Path(source).name, line): list(reasons)
        for source, line, reasons in quarantine.select("source_file", "line_number", "reasons").iter_rows()
    }


def assert_accounted(home: Settings, fault: Fault, day: date) -> None:
    """Bronze holds every landed record; silver + quarantine = landed; the quarantine holds exactly the expected
    lines with their reasons."""
    bronze, silver, quarantine = feed_rows(home, fault.feed, day)
    assert bronze.height == fault.records
    assert silver.height + quarantine.height == fault.records
    assert reasons_by_line(quarantine) == fault.quarantined


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def step_failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    return str(error.cause or error)


def day_after(day: date, n: int) -> date:
    return day + timedelta(days=n)


RUNNER = """
import json, os, pwd, shutil, sys, tempfile
from datetime import date
from pathlib import Path
from medallion.settings import Settings
from medallion_tests.faults.conftest import run, step_failure_message
home, first, last = Settings(home=Path(sys.argv[1]), env="local"), *map(date.fromisoformat, sys.argv[2:4])
if len(sys.argv) > 4:  # as this user; Python's own files sit under a root-only folder: import them all as root first
    scratch = Path(tempfile.mkdtemp())
    shutil.copytree(home.landing_dir, scratch / "landing")
    for path in (scratch / "landing").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    run(Settings(home=scratch, env="local"), first, last)
    shutil.rmtree(scratch)
    user = pwd.getpwnam(sys.argv[4])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
result = run(home, first, last)
print(json.dumps({"success": result.success, "failure": None if result.success else step_failure_message(result)}))
"""


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    success: bool
    failure: str | None
    peak_rss_mb: float
    log: str


def start_etl_process(home: Settings, first: date, last: date | None = None, user: str | None = None, log=None):
    """etl_job for the days, in a new Python process; stdout is its JSON verdict. With `user` (the caller is root),
    the process warms up on a readable copy of the landing files, then drops to that user for the real run."""
    command = [sys.executable, "-c", RUNNER, str(home.home), first.isoformat(), (last or first).isoformat()]
    if user:
        command.append(user)
    out = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=out, stderr=log or subprocess.DEVNULL)
    process.verdict_file = out
    return process


def finish_etl_process(process: subprocess.Popen, timeout: float = 180.0) -> ChildRun:
    """Wait for the process (os.wait4: its own peak memory, not that of every child this test session started)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"etl process {process.pid} did not finish in {timeout} s")
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.verdict_file.seek(0)
    output = process.verdict_file.read().decode()
    verdict = json.loads(output.strip().splitlines()[-1]) if output.strip() else {"success": False, "failure": None}
    return ChildRun(process.returncode, verdict["success"], verdict["failure"], usage.ru_maxrss / 1024, output)


def run_etl_process(home: Settings, first: date, last: date | None = None, user: str | None = None) -> ChildRun:
    return finish_etl_process(start_etl_process(home, first, last, user))
