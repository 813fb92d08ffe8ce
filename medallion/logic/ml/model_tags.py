"""What a registered model version carries as tags, typed: written once at registration, read by every consumer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date


class ModelTagsError(ValueError):
    """A model version lacks a tag medallion writes, or holds one it cannot read."""


@dataclass(frozen=True)
class ModelTags:
    feature_set_version: str
    candidate: str
    threshold: float
    selection_auc: float  # on the valid_* days, which chose the candidate and its threshold: optimistic
    holdout_auc: float  # on the holdout_* days, used for nothing else: the reference live AUC is compared with
    holdout_auc_se: float
    holdout_rows: int
    as_of: date
    window_start: date  # the training set's application days
    window_end: date
    train_start: date  # the days the model was fit on
    train_end: date
    valid_start: date  # the days the candidate was chosen and its threshold tuned on
    valid_end: date
    holdout_start: date  # the days it was measured on (and compared with the champion on)
    holdout_end: date

    @property
    def used_days(self) -> tuple[date, date]:
        """The application days the version was fitted, tuned or measured on: its in-sample days."""
        return self.train_start, self.holdout_end

    def to_mlflow(self) -> dict[str, str]:
        return {f.name: _text(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_mlflow(cls, tags: Mapping[str, str], version: str = "?") -> ModelTags:
        values = {}
        for f in fields(cls):
            if f.name not in tags:
                raise ModelTagsError(f"model version {version} lacks the tag {f.name!r}: retrain it (training_job)")
            values[f.name] = _parse(f.type, tags[f.name], f.name, version)
        return cls(**values)


def _text(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _parse(kind: str, text: str, name: str, version: str) -> object:
    try:
        return {"date": date.fromisoformat, "float": float, "int": int}.get(kind, str)(text)
    except ValueError:
        raise ModelTagsError(f"model version {version}: tag {name}={text!r} is not a {kind}") from None
