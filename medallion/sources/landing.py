"""The landing layout: `<landing_dir>/<feed>/<YYYY-MM-DD>/*.csv`, written atomically and never modified.

Applications of day d go to `applications/<d>/applications_<d>.csv`; their outcomes become known
`label_delay_days` later and go to `outcomes/<d + delay>/outcomes_<d>.csv`, each naming its application day d.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

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


def list_day_files(landing_dir: Path, feed: str, day: date) -> list[Path]:
    folder = day_dir(landing_dir, feed, day)
    return sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []


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
        if day.isoformat() == folder.name and folder.is_dir() and any(p.is_file() for p in folder.glob("*.csv")):
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
