"""engineer_features on hand-made rows (values computed by hand) and on the whole reference dataset."""

from datetime import date

import polars as pl
import pytest

from medallion.contract import load_contract
from medallion.logic.etl.features import (
    AGE_BAND_EDGES,
    FEATURE_NAMES,
    FEATURE_SET_VERSION,
    FEATURE_SPECS,
    PASSTHROUGH,
    engineer_features,
)
from medallion.settings import REFERENCE_DATASET
from medallion_tests.conftest import CREDIT_CONTRACT

CONTRACT = load_contract(CREDIT_CONTRACT)
DAY = date(2025, 1, 1)


def silver(rows: list[dict]) -> pl.DataFrame:
    """Rows typed as silver.applications: the contract's dtypes plus partition_date."""
    schema = {"partition_date": pl.Date, **{c.name: c.dtype for c in CONTRACT.entity.columns}}
    return pl.DataFrame([{"partition_date": DAY, **row} for row in rows], schema=schema)


def application(
    id_: int, limit=100_000, sex=1, education=2, marriage=2, age=40, pay=(0,) * 6, bills=(0,) * 6, paid=(0,) * 6
) -> dict:
    row = {"ID": id_, "LIMIT_BAL": limit, "SEX": sex, "EDUCATION": education, "MARRIAGE": marriage, "AGE": age}
    row.update({c: v for c, v in zip(["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"], pay, strict=False)})
    row.update({f"BILL_AMT{i}": v for i, v in enumerate(bills, start=1)})
    row.update({f"PAY_AMT{i}": v for i, v in enumerate(paid, start=1)})
    return row


@pytest.fixture(scope="module")
def hand_made() -> dict[int, dict]:
    rows = [
        application(1, limit=100_000, sex=2, education=1, marriage=1, age=25, pay=(2, 0, -1, -1, 3, -2),
                    bills=(50_000, 40_000, 30_000, 20_000, 10_000, 10_000), paid=(4_000, 3_000, 2_000, 1_000, 0, 0)),
        application(2, limit=20_000, sex=1, education=4, marriage=2, age=26, paid=(100, 0, 0, 0, 0, 0)),
        application(3, limit=10_000, education=0, marriage=3, age=35,
                    bills=(-500, -1_000, -200, 0, 0, 0), paid=(50, 0, 0, 0, 0, 0)),
        application(4, limit=1, education=3, age=36,
                    bills=(10_000_000, 1_000, 1_000, 1_000, 1_000, 1_000), paid=(1_000_000,) * 6),
    ]  # fmt: skip
    features = engineer_features(silver(rows))
    return {row["ID"]: row for row in features.iter_rows(named=True)}


def test_output_columns_are_passthrough_then_every_feature(hand_made):
    assert list(hand_made[1]) == [*PASSTHROUGH, *FEATURE_NAMES]
    assert hand_made[1]["partition_date"] == DAY
    assert FEATURE_SET_VERSION == "credit-v1"


def test_utilisation_trend_and_payment_ratios(hand_made):
    row = hand_made[1]
    assert row["limit_bal"] == 100_000.0
    assert row["utilisation_latest"] == pytest.approx(0.5)
    assert row["utilisation_mean"] == pytest.approx(160_000 / 6 / 100_000)
    assert row["bill_trend"] == pytest.approx(0.4)
    # payments of months 1..5 settle the bills of months 2..6
    assert row["payment_ratio"] == pytest.approx(10_000 / 110_000)
    assert row["payment_ratio_latest"] == pytest.approx(4_000 / 40_000)


def test_delay_counts(hand_made):
    row = hand_made[1]
    assert [row[f"pay_status_{i}"] for i in range(6)] == [2.0, 0.0, -1.0, -1.0, 3.0, -2.0]
    assert row["months_delayed"] == 2.0
    assert row["max_delay"] == 3.0
    assert row["months_paid_duly"] == 2.0
    assert row["months_without_payment"] == 2.0
    assert hand_made[2]["months_delayed"] == 0.0 and hand_made[2]["max_delay"] == 0.0
    assert hand_made[2]["months_without_payment"] == 5.0


def test_categorical_indicators(hand_made):
    first, second, third, fourth = (hand_made[i] for i in (1, 2, 3, 4))
    assert (
        first["is_female"],
        first["education_graduate"],
        first["education_other"],
        first["is_married"],
        first["is_single"],
    ) == (1.0, 1.0, 0.0, 1.0, 0.0)
    assert (second["is_female"], second["education_other"], second["is_married"], second["is_single"]) == (
        0.0,
        1.0,
        0.0,
        1.0,
    )
    assert (third["education_other"], third["is_married"], third["is_single"]) == (
        1.0,
        0.0,
        0.0,
    )  # EDUCATION 0, MARRIAGE 3
    assert (fourth["education_high_school"], fourth["education_university"]) == (1.0, 0.0)


def test_payment_ratio_is_null_when_nothing_is_owed(hand_made):
    assert hand_made[2]["payment_ratio"] is None and hand_made[2]["payment_ratio_latest"] is None  # bills all 0
    assert hand_made[3]["payment_ratio"] is None and hand_made[3]["payment_ratio_latest"] is None  # bills negative
    assert hand_made[3]["utilisation_latest"] == pytest.approx(-0.05)


def test_ratios_are_capped(hand_made):
    row = hand_made[4]
    assert row["payment_ratio_latest"] == 10.0 and row["payment_ratio"] == 10.0
    assert row["utilisation_latest"] == 50.0 and row["utilisation_mean"] == 50.0 and row["bill_trend"] == 50.0


@pytest.mark.parametrize(
    "age, band", [(18, 0), (25, 0), (26, 1), (35, 1), (36, 2), (45, 2), (46, 3), (60, 3), (61, 4), (100, 4)]
)
def test_age_band_edges(age, band):
    assert AGE_BAND_EDGES == [25, 35, 45, 60]
    features = engineer_features(silver([application(1, age=age)]))
    assert features["age_band"].to_list() == [float(band)]
    assert features["age"].to_list() == [float(age)]


def test_empty_input_gives_empty_output_with_every_column():
    features = engineer_features(silver([]))
    assert features.height == 0 and features.columns == [*PASSTHROUGH, *FEATURE_NAMES]


@pytest.fixture(scope="module")
def reference_features() -> pl.DataFrame:
    frame = pl.read_csv(REFERENCE_DATASET)
    typed = frame.select(
        pl.lit(DAY).alias("partition_date"), *[pl.col(c.name).cast(c.dtype) for c in CONTRACT.entity.columns]
    )
    return engineer_features(typed)


def test_reference_data_every_feature_present_float_and_in_range(reference_features):
    assert reference_features.height == 30_000
    for name, (low, high, _) in FEATURE_SPECS.items():
        column = reference_features[name]
        assert column.dtype == pl.Float64, name
        assert column.is_nan().sum() == 0, name
        values = column.drop_nulls()
        assert values.min() >= low and values.max() <= high, (name, values.min(), values.max())


def test_reference_data_null_rates_within_tolerance(reference_features):
    rates = {name: reference_features[name].null_count() / reference_features.height for name in FEATURE_SPECS}
    over = {name: rate for name, rate in rates.items() if rate > FEATURE_SPECS[name][2]}
    assert over == {}
    # the ratios are null for the clients who owed nothing: some, but far below the tolerance
    assert 0 < rates["payment_ratio"] < 0.5 and 0 < rates["payment_ratio_latest"] < 0.5


def test_reference_data_indicators_partition_the_categories(reference_features):
    education = reference_features.select(
        pl.sum_horizontal("education_graduate", "education_university", "education_high_school", "education_other")
    ).to_series()
    assert education.unique().to_list() == [1.0]
    assert reference_features.filter((pl.col("is_married") + pl.col("is_single")) > 1).height == 0
