"""The landing zone: where the outside world drops files, one folder per feed and day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from medallion.sources.landing import DayFiles, landed_days, list_day_files, scan_day


class LandingZone(dg.ConfigurableResource):
    """Read-only view of `<root>/<feed>/<YYYY-MM-DD>/`; the pipeline never modifies or deletes a landed file."""

    root: str

    def files(self, feed: str, day: date) -> list[Path]:
        """The files a run of the day takes up: read, or refused (failing the run); not hidden or in-progress ones."""
        return list_day_files(Path(self.root), feed, day)

    def scan(self, feed: str, day: date) -> DayFiles:
        return scan_day(Path(self.root), feed, day)

    def days(self, feed: str) -> list[date]:
        return landed_days(Path(self.root), feed)
