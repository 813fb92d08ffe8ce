from datetime import UTC, date, datetime

import polars as pl

from medallion.logic.serving.tables import daily_summary, rows_per_day, served_mismatches

LOADED = datetime(2025, 3, 3, tzinfo=UTC)


def test_the_summary_has_every_day_of_the_run_quiet_days_with_zero_rows():
    scored = pl.DataFrame(
        {
            "partition_date": [date(2025, 3, 1)] * 4,
            "probability": [0.1, 0.2, 0.6, 0.9],
            "predicted_label": [0, 0, 1, 1],
            "model_name": ["credit_default"] * 4,
            "model_version": ["3"] * 4,
            "scored_at": [datetime(2025, 3, 2, tzinfo=UTC)] * 4,
        },
        schema_overrides={"predicted_label": pl.Int8},
    )
    summary = daily_summary(scored, [date(2025, 3, 1), date(2025, 3, 2)], LOADED)
    assert summary.select("partition_date", "rows", "model_version").rows() == [
        (date(2025, 3, 1), 4, "3"),
        (date(2025, 3, 2), 0, None),
    ]
    assert summary["mean_probability"].to_list() == [0.45, None]
    assert summary["predicted_positive_rate"].to_list() == [0.5, None]


def test_an_empty_run_still_gives_its_days():
    empty = pl.DataFrame(
        schema={
            "partition_date": pl.Date,
            "probability": pl.Float64,
            "predicted_label": pl.Int8,
            "model_name": pl.String,
            "model_version": pl.String,
            "scored_at": pl.Datetime("us", "UTC"),
        }
    )
    summary = daily_summary(empty, [date(2025, 3, 1)], LOADED)
    assert summary.select("partition_date", "rows").rows() == [(date(2025, 3, 1), 0)]


def test_read_back_mismatches_name_the_target_and_the_day():
    days = [date(2025, 3, 1), date(2025, 3, 2)]
    scored = pl.DataFrame({"partition_date": [date(2025, 3, 1)] * 3})
    expected = rows_per_day(scored, days)
    assert expected == {date(2025, 3, 1): 3, date(2025, 3, 2): 0}
    served = {"duckdb": {date(2025, 3, 1): 3}, "postgres": {date(2025, 3, 1): 2, date(2025, 3, 2): 1}}
    assert served_mismatches(expected, served) == {"postgres": "2025-03-01: 2 ≠ 3; 2025-03-02: 1 ≠ 0"}
