"""The landing zone: where the outside world drops files, one folder per feed and day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    """Read-only view of `<root>/<feed>/<YYYY-MM-DD>/*.csv`; the pipeline never modifies or deletes a landed file."""

    root: str

    def files(self, feed: str, day: date) -> list[Path]:
        folder = Path(self.root) / feed / day.isoformat()
        return sorted(p for p in folder.glob("*.csv") if p.is_file())
