"""Files the monitoring loop keeps beside the warehouse: decision audit trail, charts and the alert log."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from medallion.utils.atomic import write_bytes_atomic


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


class MonitoringFiles(dg.ConfigurableResource):
    """Where decisions (`<date>.json`) and monitoring charts (`<date>.png`) are written."""

    decisions_dir: str
    reports_dir: str

    def for_dataset(self, folder: str) -> MonitoringFiles:
        """The same resource writing into `folder` under both folders ("" keeps them: the shipped dataset's)."""
        if not folder:
            return self
        return MonitoringFiles(
            decisions_dir=str(Path(self.decisions_dir) / folder), reports_dir=str(Path(self.reports_dir) / folder)
        )

    def decision_path(self, day: date | str) -> Path:
        return Path(self.decisions_dir) / f"{day}.json"

    def write_decision(self, day: date | str, payload: dict) -> Path:
        return write_json_atomic(self.decision_path(day), payload)

    def read_decision(self, day: date | str) -> dict:
        """The audit copy of a decision; raises ValueError when it is missing, unreadable or not an object."""
        path = self.decision_path(day)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: {error}") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
        return data

    def chart_path(self, day: date | str) -> Path:
        return Path(self.reports_dir) / f"{day}.png"
