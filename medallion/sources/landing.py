"""The landing layout: `<landing_dir>/<feed>/<YYYY-MM-DD>/*.csv`, written atomically and never modified.

Applications of day d go to `applications/<d>/applications_<d>.csv`; their outcomes become known
`label_delay_days` later and go to `outcomes/<d + delay>/outcomes_<d>.csv`, each naming its application day d.

Every file under a day folder, in sub-folders too, is read or accounted for (`scan_day`): a CSV in any case of
extension, plain or compressed, is read; a hidden or in-progress file is ignored by a stated rule and named; any other
file is refused, and the step reading the day fails naming it. Nothing under a day folder is skipped without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from medallion.logic.etl.ingestion import COMPRESSIONS
from medallion.utils.atomic import write_bytes_atomic

APPLICATIONS = "applications"
OUTCOMES = "outcomes"
LABEL = "default_payment_next_month"
OUTCOME_DATE = "outcome_date"
APPLICATION_DATE = "application_date"

APPLICATION_COLUMNS: tuple[str, ...] = (
    "ID", "LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE",
    "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6",
    *(f"BILL_AMT{i}" for i in range(1, 7)),
    *(f"PAY_AMT{i}" for i in range(1, 7)),
)  # fmt: skip


class LandingConflictError(FileExistsError):
    """A landing file already exists with different content; landed files are never modified."""


@dataclass(frozen=True)
class LandingSummary:
    """What a replay or generate run put into the landing folder."""

    landing_dir: Path
    days: int
    rows: int
    first_application_day: date
    last_application_day: date
    last_outcome_day: date
    files_written: int
    files_unchanged: int

    def describe(self) -> str:
        return (
            f"{self.rows} rows over {self.days} day(s): applications {self.first_application_day}"
            f"..{self.last_application_day} in {self.landing_dir / APPLICATIONS}, outcomes until "
            f"{self.last_outcome_day} in {self.landing_dir / OUTCOMES}; "
            f"{self.files_written} file(s) written, {self.files_unchanged} already identical"
        )


def day_dir(landing_dir: Path, feed: str, day: date) -> Path:
    return Path(landing_dir) / feed / day.isoformat()


# Suffixes writers give a file while it is still being written or copied, before the rename that delivers it.
IN_PROGRESS_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".swp", ".crdownload", ".filepart", ".download")
READ_SUFFIXES = (".csv", *(f".csv{suffix}" for suffix in COMPRESSIONS))
LANDING_RULE = (
    f"read: {', '.join(READ_SUFFIXES)} in any case, in the day folder or its sub-folders; ignored: names (or "
    f"folders) starting with '.', ending with '~', {', '.join(IN_PROGRESS_SUFFIXES)} or containing _COPYING_; "
    "anything else fails the day's bronze step"
)


@dataclass(frozen=True)
class DayFiles:
    """Every file under one day folder, each read, ignored or refused, with why."""

    read: list[Path] = field(default_factory=list)
    ignored: dict[Path, str] = field(default_factory=dict)
    refused: dict[Path, str] = field(default_factory=dict)

    @property
    def seen(self) -> int:
        return len(self.read) + len(self.ignored) + len(self.refused)

    @property
    def requested(self) -> list[Path]:
        """What a run of the day takes up: the files it reads and those it fails on."""
        return sorted([*self.read, *self.refused])


class RefusedLandingFiles(ValueError):
    """Files under a day folder that the pipeline does not read; the step fails naming every one."""

    def __init__(self, refused: dict[Path, str]):
        self.refused = refused
        names = ", ".join(str(p) for p in list(refused)[:10]) + (" ..." if len(refused) > 10 else "")
        super().__init__(
            f"{len(refused)} landed file(s) are not files the pipeline reads: {names}. Rule: {LANDING_RULE}. Move "
            "them out of the day folder (or give a CSV its .csv name), then run the day again; nothing was written"
        )


def file_verdict(relative: Path) -> tuple[str, str | None]:
    """("read" | "ignored" | "refused", why) for a file at `relative` under its day folder."""
    name = relative.name.lower()
    if any(part.startswith(".") for part in relative.parts):
        return "ignored", "hidden (a name starting with '.')"
    if name.endswith("~") or name.endswith(IN_PROGRESS_SUFFIXES) or "_copying_" in name:
        return "ignored", "still being written (a temporary or partial-upload name)"
    if name.endswith(READ_SUFFIXES):
        return "read", None
    return "refused", f"not a file the pipeline reads ({LANDING_RULE})"


def scan_day(landing_dir: Path, feed: str, day: date) -> DayFiles:
    folder = day_dir(landing_dir, feed, day)
    found = DayFiles()
    if not folder.is_dir():
        return found
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        verdict, why = file_verdict(path.relative_to(folder))
        if verdict == "read":
            found.read.append(path)
        else:
            (found.ignored if verdict == "ignored" else found.refused)[path] = why
    return found


def list_day_files(landing_dir: Path, feed: str, day: date) -> list[Path]:
    """The files a run of the day takes up (read or refused); hidden and in-progress files are not among them."""
    return scan_day(landing_dir, feed, day).requested


def landed_days(landing_dir: Path, feed: str) -> list[date]:
    feed_dir = Path(landing_dir) / feed
    if not feed_dir.is_dir():
        return []
    days = []
    for folder in feed_dir.iterdir():
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day.isoformat() == folder.name and folder.is_dir() and list_day_files(landing_dir, feed, day):
            days.append(day)
    return sorted(days)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The one CSV rendering used for landing files, so identical frames give identical bytes."""
    return frame.write_csv(include_header=True, separator=",", line_terminator="\n", null_value="").encode()


def write_day_file_once(landing_dir: Path, feed: str, day: date, frame: pl.DataFrame, name: str) -> bool:
    """Write the file unless it already holds exactly these bytes; returns whether it was written.

    An identical file is left untouched (not rewritten) because its modification time is the delivery time.
    """
    path = day_dir(landing_dir, feed, day) / name
    data = csv_bytes(frame)
    if path.exists():
        if path.read_bytes() == data:
            return False
        raise LandingConflictError(
            f"landing file {path} already exists with different content; landed files are never modified "
            "(use another landing folder or arguments that reproduce the same files)"
        )
    write_bytes_atomic(path, data)
    return True


def land_day(
    landing_dir: Path, day: date, applications: pl.DataFrame, outcomes: pl.DataFrame, label_delay_days: int
) -> tuple[int, int]:
    """Land one day's applications and its outcomes (`ID`, label) delayed by `label_delay_days`; each outcome names
    the day of the application it resolves, so a client applying again before then cannot take it.

    Returns (files written, files already identical).
    """
    outcome_day = day + timedelta(days=label_delay_days)
    outcomes = outcomes.select(
        pl.col("ID"),
        pl.col(LABEL),
        pl.lit(outcome_day, dtype=pl.Date).alias(OUTCOME_DATE),
        pl.lit(day, dtype=pl.Date).alias(APPLICATION_DATE),
    )
    written = [
        write_day_file_once(landing_dir, APPLICATIONS, day, applications, f"applications_{day.isoformat()}.csv"),
        write_day_file_once(landing_dir, OUTCOMES, outcome_day, outcomes, f"outcomes_{day.isoformat()}.csv"),
    ]
    return sum(written), len(written) - sum(written)


def check_landing_arguments(days: int, label_delay_days: int) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if label_delay_days < 0:
        raise ValueError(f"label_delay_days must be 0 or more, got {label_delay_days}")
