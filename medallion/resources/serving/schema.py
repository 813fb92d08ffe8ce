"""What every serving target shares: its error, and how a table's columns may change between runs."""

from __future__ import annotations

from collections.abc import Sequence


class ServingError(RuntimeError):
    """A served table could not be written; the message names the target, the table and the cause."""


def added_columns(location: str, existing: Sequence[str], incoming: Sequence[str]) -> list[str]:
    """Columns this run adds to the table. A column the table has and the run no longer produces is refused:
    applications read it, so dropping it is a decision for a person, not for a daily load."""
    missing = [column for column in existing if column not in incoming]
    if missing:
        raise ServingError(
            f"{location} has column(s) {', '.join(missing)} that this run no longer produces; applications may read "
            "them, so they are not dropped: restore them in the output, or drop them from the table by hand"
        )
    return [column for column in incoming if column not in existing]


def partition_predicate(column: str, first, last) -> str:
    return f"{column} >= '{first.isoformat()}' AND {column} <= '{last.isoformat()}'"
