"""`engineer_features`: the one feature function of the credit-default dataset.

Gold features, partition predictions and ad-hoc scoring all call it, so a model never sees features computed
two ways. Bump FEATURE_SET_VERSION whenever an output column changes meaning.
"""

from __future__ import annotations

import polars as pl

FEATURE_SET_VERSION = "credit-v1"

PAY_STATUS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
BILLS = [f"BILL_AMT{i}" for i in range(1, 7)]
PAYMENTS = [f"PAY_AMT{i}" for i in range(1, 7)]
AGE_BAND_EDGES = [25, 35, 45, 60]

# Expected range and tolerated null rate of each feature; the gold quality checks read this.
FEATURE_SPECS: dict[str, tuple[float, float, float]] = {
    "limit_bal": (1, 10_000_000, 0.0),
    "age": (18, 100, 0.0),
    "age_band": (0, len(AGE_BAND_EDGES), 0.0),
    "is_female": (0, 1, 0.0),
    "education_graduate": (0, 1, 0.0),
    "education_university": (0, 1, 0.0),
    "education_high_school": (0, 1, 0.0),
    "education_other": (0, 1, 0.0),
    "is_married": (0, 1, 0.0),
    "is_single": (0, 1, 0.0),
    **{f"pay_status_{i}": (-2, 9, 0.0) for i in range(6)},
    "months_delayed": (0, 6, 0.0),
    "max_delay": (-2, 9, 0.0),
    "months_paid_duly": (0, 6, 0.0),
    **{f"bill_amt_{i}": (-10_000_000, 10_000_000, 0.0) for i in range(1, 7)},
    **{f"pay_amt_{i}": (0, 10_000_000, 0.0) for i in range(1, 7)},
    "utilisation_latest": (-50, 50, 0.0),
    "utilisation_mean": (-50, 50, 0.0),
    "bill_trend": (-50, 50, 0.0),
    "payment_ratio": (0, 10, 0.5),
    "payment_ratio_latest": (0, 10, 0.5),
    "months_without_payment": (0, 6, 0.0),
}
FEATURE_NAMES = list(FEATURE_SPECS)
PASSTHROUGH = ["partition_date", "ID"]


def _safe_ratio(numerator: pl.Expr, denominator: pl.Expr, cap: float) -> pl.Expr:
    """A ratio that is null where the denominator is not positive (nothing owed) and capped at `cap`."""
    return pl.when(denominator > 0).then((numerator / denominator).clip(0, cap)).otherwise(None)


def engineer_features(applications: pl.DataFrame) -> pl.DataFrame:
    """Silver applications (typed contract columns) → one row of model features per application."""
    limit = pl.col("LIMIT_BAL").cast(pl.Float64)
    statuses = [pl.col(c) for c in PAY_STATUS]
    bills = [pl.col(c).cast(pl.Float64) for c in BILLS]
    payments = [pl.col(c).cast(pl.Float64) for c in PAYMENTS]
    age_band = sum((pl.col("AGE") > edge).cast(pl.Int8) for edge in AGE_BAND_EDGES)
    return applications.select(
        *PASSTHROUGH,
        limit.alias("limit_bal"),
        pl.col("AGE").cast(pl.Float64).alias("age"),
        age_band.cast(pl.Float64).alias("age_band"),
        (pl.col("SEX") == 2).cast(pl.Float64).alias("is_female"),
        (pl.col("EDUCATION") == 1).cast(pl.Float64).alias("education_graduate"),
        (pl.col("EDUCATION") == 2).cast(pl.Float64).alias("education_university"),
        (pl.col("EDUCATION") == 3).cast(pl.Float64).alias("education_high_school"),
        (~pl.col("EDUCATION").is_in([1, 2, 3])).cast(pl.Float64).alias("education_other"),
        (pl.col("MARRIAGE") == 1).cast(pl.Float64).alias("is_married"),
        (pl.col("MARRIAGE") == 2).cast(pl.Float64).alias("is_single"),
        *[s.cast(pl.Float64).alias(f"pay_status_{i}") for i, s in enumerate(statuses)],
        pl.sum_horizontal(s > 0 for s in statuses).cast(pl.Float64).alias("months_delayed"),
        pl.max_horizontal(statuses).cast(pl.Float64).alias("max_delay"),
        pl.sum_horizontal(s == -1 for s in statuses).cast(pl.Float64).alias("months_paid_duly"),
        *[b.alias(f"bill_amt_{i}") for i, b in enumerate(bills, start=1)],
        *[p.alias(f"pay_amt_{i}") for i, p in enumerate(payments, start=1)],
        (bills[0] / limit).clip(-50, 50).alias("utilisation_latest"),
        (pl.mean_horizontal(bills) / limit).clip(-50, 50).alias("utilisation_mean"),
        ((bills[0] - bills[5]) / limit).clip(-50, 50).alias("bill_trend"),
        # A payment in month k settles the bill of month k+1, hence the one-month offset.
        _safe_ratio(pl.sum_horizontal(payments[:5]), pl.sum_horizontal(bills[1:]), 10).alias("payment_ratio"),
        _safe_ratio(payments[0], bills[1], 10).alias("payment_ratio_latest"),
        pl.sum_horizontal(p == 0 for p in payments).cast(pl.Float64).alias("months_without_payment"),
    )
