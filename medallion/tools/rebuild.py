"""`medallion rebuild-warehouse`: a damaged DuckDB warehouse moved aside (never deleted) and bronze, silver and gold
rebuilt from the landing files by one etl_job run over the landed days.

The ML tables cannot come back from the landing files: the models and their registry live in MLflow (untouched
here), so predictions are scored again by inference_job and model metadata by training_job."""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from medallion.resources.warehouse_file import WarehouseFileError, connect_read_only, is_lock_conflict
from medallion.settings import PROJECT_DIR, Settings, child_environment
from medallion.tools.status import landing_status

TRIGGER_TAG = "medallion/trigger=rebuild-warehouse"


class RebuildRefused(ValueError):
    """The warehouse is not one to move aside: it opens fine, another process holds it, or it is not a file."""


@dataclass(frozen=True)
class RebuildPlan:
    moved: list[Path]
    first: date | None
    last: date | None
    command: list[str]  # the `medallion launch` that rebuilds bronze, silver and gold; empty when nothing landed

    def shown_command(self, home: Path) -> str:
        return f"MEDALLION_HOME={shlex.quote(str(home))} " + shlex.join(["medallion", *self.command])


def refuse_unless_damaged(settings: Settings, force: bool) -> None:
    if settings.env != "local":
        raise RebuildRefused(
            f"MEDALLION_ENV={settings.env}: the warehouse is a DuckLake, not a file; this rebuilds the local DuckDB "
            "file only"
        )
    if not settings.warehouse_path.exists():
        return
    try:
        connect_read_only(settings.warehouse_path).close()
    except WarehouseFileError:
        return
    except duckdb.Error as error:
        if is_lock_conflict(error):
            raise RebuildRefused(
                f"warehouse {settings.warehouse_path} is held by another process, so it is not damaged: let the run "
                f"finish or stop it ({str(error).splitlines()[0]})"
            ) from None
        raise
    if not force:
        raise RebuildRefused(
            f"warehouse {settings.warehouse_path} opens fine: nothing to rebuild (--force moves it aside and rebuilds "
            "it anyway)"
        )


def move_aside(database: Path, moment: datetime) -> list[Path]:
    """The file and its write-ahead log renamed to `<name>.corrupt-<timestamp>[.wal]`, side by side as DuckDB pairs
    them, so that whoever investigates can open both."""
    target = database.with_name(f"{database.name}.corrupt-{moment:%Y%m%dT%H%M%S}")
    moved = []
    for source, destination in ((database, target), (_wal(database), _wal(target))):
        if source.exists():
            if destination.exists():
                raise FileExistsError(f"{destination} exists; try again in a second")
            source.rename(destination)
            moved.append(destination)
    return moved


def _wal(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def landed_range(settings: Settings) -> tuple[date, date] | None:
    """The first and last landed day over every feed, within the partitions' range."""
    feeds = [feed for feed in landing_status(settings.landing_dir) if feed.first and feed.last]
    if not feeds:
        return None
    first = max(min(feed.first for feed in feeds), settings.start_date)
    last = max(feed.last for feed in feeds)
    if settings.end_date is not None:
        last = min(last, settings.end_date)
    return (first, last) if first <= last else None


def plan_rebuild(settings: Settings, moment: datetime) -> RebuildPlan:
    moved = move_aside(settings.warehouse_path, moment)
    days = landed_range(settings)
    if days is None:
        return RebuildPlan(moved, None, None, [])
    first, last = days
    command = ["launch", "etl_job", "--start", first.isoformat(), "--end", last.isoformat(), "--tag", TRIGGER_TAG]
    return RebuildPlan(moved, first, last, command)


def run_rebuild(settings: Settings, plan: RebuildPlan) -> int:
    """The plan's launch in a new process, on this home, its output shown as it goes."""
    command = [sys.executable, "-m", "medallion", *plan.command]
    environment = child_environment({"MEDALLION_HOME": str(settings.home)})
    return subprocess.run(command, cwd=PROJECT_DIR, env=environment, check=False).returncode


def ml_note(settings: Settings) -> str:
    return (
        "not rebuilt from the landing files: the ML and serving tables (ml.*, serving.*). The models and their "
        "registry live in "
        f"MLflow ({settings.mlflow_dir} unless MEDALLION_MLFLOW_TRACKING_URI names a server), untouched: score the "
        "days again with `medallion launch inference_job --start A --end B`, and run training_job and "
        "monitoring_job for their tables"
    )
