"""Did a promotion hold? Each promotion over a champion is measured again on the labelled rows that came after it
(issue 22, finding 5: a promoted version's reported gain is overstated by its selection, the winner's curse).

For a version vN promoted over vM, the later rows are the application days after every day either version used for
anything (vN's evaluation window ends on its last holdout day, after vM's), with the labels known on the day the
follow-up is made. Both versions score them; the realised AUC gain, its DeLong interval and n stand beside the gain
the promotion claimed and its selection-adjusted estimate, with a verdict:

- "held": the realised interval is above 0;
- "not confirmed": it covers 0 (the later rows cannot tell the two versions apart, or not yet);
- "reversed": it is below 0, the promoted version is worse on the later rows;
- "too few rows": fewer labelled rows than the promotion itself needed (MIN_EVALUATION_ROWS) or a single class.

The verdict is about the realised gain's sign for every branch; a promotion of a stale champion's replacement only
claimed "not significantly worse", which "not confirmed" fulfils.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from medallion.logic.ml.champion import MIN_EVALUATION_ROWS
from medallion.logic.ml.evaluation import auc_difference, confidence_label

HELD, NOT_CONFIRMED, REVERSED, TOO_FEW_ROWS, NOT_SCORED = (
    "held",
    "not confirmed",
    "reversed",
    "too few rows",
    "not scored",
)
VERDICTS = (HELD, NOT_CONFIRMED, REVERSED, TOO_FEW_ROWS, NOT_SCORED)
FOLLOW_UP_DAYS = 90  # promotions evaluated this many days before the follow-up day or fewer are followed up


@dataclass(frozen=True)
class Promotion:
    """A promotion over a compared champion, as ml.model_evaluation recorded it."""

    version: str
    champion_version: str
    branch: str
    evaluated_on: date
    evaluation_window: str
    claimed: float  # the AUC difference on the evaluation rows, and its interval there
    claimed_low: float
    claimed_high: float
    adjusted: float | None = None  # selection-adjusted (only for a promotion as significantly better)
    adjusted_low: float | None = None
    adjusted_high: float | None = None

    @classmethod
    def from_row(cls, row: Mapping) -> Promotion:
        return cls(
            version=str(row["new_version"]),
            champion_version=str(row["champion_version"]),
            branch=row["decision"],
            evaluated_on=row["partition_date"],
            evaluation_window=row["evaluation_window"],
            claimed=row["roc_auc_difference"],
            claimed_low=row["roc_auc_ci_low"],
            claimed_high=row["roc_auc_ci_high"],
            adjusted=row.get("selection_adjusted_auc_difference"),
            adjusted_low=row.get("selection_adjusted_auc_low"),
            adjusted_high=row.get("selection_adjusted_auc_high"),
        )

    def claim_text(self) -> str:
        claim = f"claimed {self.claimed:+.4f} [{self.claimed_low:+.4f}, {self.claimed_high:+.4f}]"
        if self.adjusted is None:
            return f"{claim}, not selection-adjusted ({self.branch})"
        return f"{claim}, selection-adjusted {self.adjusted:+.4f} [{self.adjusted_low:+.4f}, {self.adjusted_high:+.4f}]"


def promotions_to_follow(rows: Sequence[Mapping], day: date, follow_up_days: int = FOLLOW_UP_DAYS) -> list[Promotion]:
    """The promotions over a compared champion evaluated in the `follow_up_days` up to `day`, oldest first; `rows` are
    ml.model_evaluation rows."""
    found = [
        Promotion.from_row(row)
        for row in rows
        if row["promoted"]
        and row["champion_version"] is not None
        and row["roc_auc_difference"] is not None
        and 0 <= (day - row["partition_date"]).days <= follow_up_days
    ]
    return sorted(found, key=lambda p: (p.evaluated_on, int(p.version) if p.version.isdigit() else 0, p.version))


def later_rows(rows: pl.DataFrame, used_until: Sequence[date], day: date) -> tuple[pl.DataFrame, str]:
    """The labelled rows (a training set: application_date, label known on `day`) of the application days after the
    last day either version used (`used_until`: each one's last used day) up to `day`, and those days as text."""
    first = max(used_until) + timedelta(days=1)
    later = rows.filter(pl.col("application_date").is_between(first, day))
    return later, f"{first}..{day}" if first <= day else ""


@dataclass(frozen=True)
class FollowUp:
    promotion: Promotion
    verdict: str
    rows: int
    days: str  # the later application days looked at, "first..last"
    realised: float | None = None
    realised_low: float | None = None
    realised_high: float | None = None
    realised_se: float | None = None
    confidence: float = 0.95
    note: str | None = None  # why there is no realised gain

    def text(self) -> str:
        p = self.promotion
        head = f"v{p.version} over v{p.champion_version} ({p.branch}, evaluated {p.evaluated_on}): {p.claim_text()}"
        if self.realised is None:
            return f"{head}; {self.verdict}: {self.note}"
        return (
            f"{head}; realised {self.realised:+.4f} ({confidence_label(self.confidence)} CI "
            f"[{self.realised_low:+.4f}, {self.realised_high:+.4f}]) on {self.rows} later rows of application days "
            f"{self.days}: {self.verdict}"
        )

    def record(self) -> dict:
        """One row of the check's table (None where there is no number)."""
        p = self.promotion

        def number(value: float | None) -> float | None:
            return None if value is None else round(float(value), 5)

        return {
            "version": p.version,
            "over": p.champion_version,
            "decision": p.branch,
            "evaluated_on": str(p.evaluated_on),
            "claimed": number(p.claimed),
            "claimed_low": number(p.claimed_low),
            "claimed_high": number(p.claimed_high),
            "adjusted": number(p.adjusted),
            "adjusted_low": number(p.adjusted_low),
            "adjusted_high": number(p.adjusted_high),
            "realised": number(self.realised),
            "realised_low": number(self.realised_low),
            "realised_high": number(self.realised_high),
            "rows": self.rows,
            "days": self.days,
            "verdict": self.verdict,
        }


RECORD_COLUMNS = {
    "version": "string",
    "over": "string",
    "decision": "string",
    "evaluated_on": "string",
    **dict.fromkeys(
        [
            "claimed",
            "claimed_low",
            "claimed_high",
            "adjusted",
            "adjusted_low",
            "adjusted_high",
            "realised",
            "realised_low",
            "realised_high",
        ],
        "float",
    ),
    "rows": "int",
    "days": "string",
    "verdict": "string",
}


def not_scored(promotion: Promotion, why: str, rows: int = 0, days: str = "") -> FollowUp:
    """A promotion the follow-up could not score (a version that cannot be loaded, a champion whose columns the later
    rows lack); it passes, saying why."""
    return FollowUp(promotion, NOT_SCORED, rows, days, note=why)


def too_few_rows(
    promotion: Promotion, y_true: np.ndarray, days: str, alpha: float = 0.05, min_rows: int = MIN_EVALUATION_ROWS
) -> FollowUp | None:
    """The "too few rows" follow-up when the later rows are fewer than the promotion itself needed or of one class,
    else None (then they are worth scoring)."""
    y = np.asarray(y_true).ravel()
    n, classes = y.size, np.unique(y).size
    if n >= min_rows and classes == 2:
        return None
    return FollowUp(
        promotion,
        TOO_FEW_ROWS,
        n,
        days,
        confidence=1 - alpha,
        note=f"{n} labelled later rows{' of one class' if n and classes < 2 else ''} of application days "
        f"{days or 'none'} (the promotion needed at least {min_rows} with both classes); judged when more mature",
    )


def follow_up(
    promotion: Promotion,
    y_true: np.ndarray,
    proba_new: np.ndarray,
    proba_champion: np.ndarray,
    days: str,
    alpha: float = 0.05,
    min_rows: int = MIN_EVALUATION_ROWS,
) -> FollowUp:
    """The realised AUC gain of the promoted version over the one it replaced on later rows, its DeLong interval at
    1 - alpha and the verdict."""
    from scipy.stats import norm

    y = np.asarray(y_true).ravel()
    too_few = too_few_rows(promotion, y, days, alpha, min_rows)
    if too_few is not None:
        return too_few
    difference, variance = auc_difference(y, proba_new, proba_champion)
    se = float(np.sqrt(max(variance, 0.0)))
    margin = float(norm.isf(alpha / 2)) * se
    low, high = difference - margin, difference + margin
    verdict = HELD if low > 0 else REVERSED if high < 0 else NOT_CONFIRMED
    return FollowUp(promotion, verdict, y.size, days, difference, low, high, se, 1 - alpha)


@dataclass(frozen=True)
class FollowUpSummary:
    """The check's verdict over every promotion followed: it fails (a warning, never blocking) only on a reversal."""

    passed: bool
    description: str
    counts: dict[str, int]


def summarize(followups: Sequence[FollowUp], day: date, follow_up_days: int = FOLLOW_UP_DAYS) -> FollowUpSummary:
    counts = {verdict: sum(f.verdict == verdict for f in followups) for verdict in VERDICTS}
    if not followups:
        return FollowUpSummary(
            True, f"no promotion over a champion was evaluated in the {follow_up_days} days up to {day}", counts
        )
    reversed_ = [f for f in followups if f.verdict == REVERSED]
    head = (
        f"{len(reversed_)} of {len(followups)} promotions reversed on later rows"
        if reversed_
        else f"no promotion reversed on later rows ({', '.join(f'{n} {v}' for v, n in counts.items() if n)})"
    )
    lines = [f"- {f.text()}" for f in (reversed_ + [f for f in followups if f.verdict != REVERSED])]
    return FollowUpSummary(not reversed_, "\n".join([head + ":", *lines]), counts)
