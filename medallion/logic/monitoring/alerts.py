"""Alerts: one JSON line each in an append-only log, optionally POSTed to a webhook.

The log is a file rather than a DuckDB table because alerts are written by sensors in the daemon while a
run may hold the warehouse's single writer lock, and an alert about a failing run must not wait for it.
DuckDB reads the log as a table: `select * from read_json_auto('<home>/alerts/alerts.jsonl')`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Alert:
    kind: str  # run_failure | check_failure
    message: str
    job: str
    run_id: str
    partition: str | None = None
    severity: str = "error"
    details: dict[str, Any] = field(default_factory=dict)
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def append_alert(path: Path, alert: Alert) -> Path:
    """Append one line; a single write in append mode, so concurrent writers do not interleave lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(alert.to_dict(), sort_keys=True, default=str) + "\n"
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(line)
    return path


def read_alerts(path: Path) -> list[dict[str, Any]]:
    """Every readable alert line; a torn or hand-edited line is skipped, not fatal."""
    if not path.exists():
        return []
    alerts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            alerts.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return alerts


def post_webhook(url: str, alert: Alert, timeout: float = 5.0) -> int:
    """POST the alert as JSON; returns the HTTP status.

    Raises OSError (URLError, timeouts) when it cannot be delivered."""
    body = json.dumps(alert.to_dict(), default=str).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def failed_check_summary(evaluations: list[Any]) -> list[dict[str, Any]]:
    """Failed ERROR-severity checks of AssetCheckEvaluation-like objects, as plain dicts."""
    return [
        {
            "asset": e.asset_key.to_user_string(),
            "check": e.check_name,
            "partition": e.partition,
            "description": e.description,
        }
        for e in evaluations
        if not e.passed and getattr(e.severity, "value", str(e.severity)) == "ERROR"
    ]
