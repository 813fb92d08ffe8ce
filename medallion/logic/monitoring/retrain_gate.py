"""Whether the retrain sensor acts on the latest decision: once per decision, and at most one retrain per N days."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

DEFAULT_MIN_DAYS_BETWEEN_RETRAINS = 7


@dataclass(frozen=True)
class GateCursor:
    """The storage id of the last decision looked at, and the day of the last retrain requested."""

    storage_id: int | None = None
    last_retrain_day: date | None = None

    def to_json(self) -> str:
        day = self.last_retrain_day.isoformat() if self.last_retrain_day else None
        return json.dumps({"storage_id": self.storage_id, "last_retrain_day": day})

    @classmethod
    def from_json(cls, text: str | None) -> GateCursor:
        if not text:
            return cls()
        data = json.loads(text)
        day = data.get("last_retrain_day")
        return cls(storage_id=data.get("storage_id"), last_retrain_day=date.fromisoformat(day) if day else None)


@dataclass(frozen=True)
class GateOutcome:
    request: bool
    reason: str
    cursor: GateCursor


def gate_retrain(
    decision: Mapping[str, Any],
    storage_id: int,
    cursor: GateCursor,
    last_trained_day: date | None,
    min_days: int = DEFAULT_MIN_DAYS_BETWEEN_RETRAINS,
) -> GateOutcome:
    """Act on `decision` (a row of ml.retrain_decision) or say why not.

    Every decision is consumed once, whatever the outcome: a retrain skipped for the time limit is not
    replayed later, because the next decision will say again whether it is still needed. The last
    retrain is the later of the last one this gate requested and the last trained model partition.
    """
    day = decision["decision_date"]
    day = date.fromisoformat(day) if isinstance(day, str) else day
    if cursor.storage_id is not None and storage_id <= cursor.storage_id:
        return GateOutcome(False, f"decision for {day} (storage id {storage_id}) was already acted on", cursor)
    consumed = replace(cursor, storage_id=storage_id)
    if not decision["retrain"]:
        return GateOutcome(False, f"decision for {day} is {decision['status']}: {decision['reason']}", consumed)
    last = max((d for d in (cursor.last_retrain_day, last_trained_day) if d is not None), default=None)
    if last is not None and min_days > 0 and day < last + timedelta(days=min_days):
        allowed = last + timedelta(days=min_days)
        return GateOutcome(
            False,
            f"decision for {day} says retrain ({decision.get('triggered_rules') or decision['reason']}), "
            f"but the last retrain was for {last} and at most one retrain "
            f"per {min_days} days is allowed: next retrain allowed from {allowed}",
            consumed,
        )
    return GateOutcome(
        True, f"decision for {day} says retrain: {decision['reason']}", replace(consumed, last_retrain_day=day)
    )
