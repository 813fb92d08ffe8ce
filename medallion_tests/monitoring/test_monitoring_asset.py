"""ml/monitoring on the real definitions: an empty warehouse, predictions without labels, and the quality trend
of landed days.
"""

from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion_tests.conftest import DAY1, land, run_etl, table

HEADER = (
    "ID,LIMIT_BAL,SEX,EDUCATION,MARRIAGE,AGE,PAY_0,PAY_2,PAY_3,PAY_4,PAY_5,PAY_6,"
    "BILL_AMT1,BILL_AMT2,BILL_AMT3,BILL_AMT4,BILL_AMT5,BILL_AMT6,"
    "PAY_AMT1,PAY_AMT2,PAY_AMT3,PAY_AMT4,PAY_AMT5,PAY_AMT6"
)
DAY = date(2025, 3, 8)


def application(id_: int, age: str = "30", bill2: str = "900") -> str:
    return f"{id_},50000,2,2,1,{age},0,0,0,0,0,0,1000,{bill2},800,700,600,500,100,100,100,100,100,100"


def monitor(defs, day: date):
    return defs.resolve_job_def("monitoring_job").execute_in_process(partition_key=str(day), raise_on_error=False)


def metadata(result, key: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path == key.split("/")]
    return event.materialization.metadata


def test_an_empty_warehouse_gives_insufficient_data_not_a_crash(home):
    result = monitor(build_definitions(home), DAY)
    assert result.success
    decision = table(home, "ml.retrain_decision").row(0, named=True)
    assert (decision["status"], decision["retrain"]) == ("insufficient_data", False)
    assert decision["reason"].startswith("only 0 predictions")
    shown = metadata(result, "ml/monitoring")
    assert shown["chart"].value.startswith("![monitoring chart](data:image/png;base64,iVBOR")
    assert (home.home / "monitoring" / f"{DAY}.png").exists()
    assert "no matured labels" in shown["summary"].value


def test_predictions_without_matured_labels_are_insufficient_data(home):
    scored = pl.DataFrame(
        {
            "partition_date": [DAY] * 300,
            "ID": range(300),
            "probability": [0.3] * 300,
            "predicted_label": pl.Series([0] * 300, dtype=pl.Int8),
            "model_name": ["credit_default"] * 300,
            "model_version": ["1"] * 300,
            "feature_set_version": ["credit-v1"] * 300,
            "in_sample": [False] * 300,
            "scored_at": [datetime(2025, 3, 8, tzinfo=UTC)] * 300,
        }
    )
    home.home.mkdir(parents=True)
    with duckdb.connect(str(home.warehouse_path)) as connection:
        # Register the frame explicitly rather than relying on DuckDB's lookup of the Python local `scored`.
        connection.register("scored", scored)
        connection.execute("create schema ml")
        connection.execute("create table ml.predictions as select * from scored")
    result = monitor(build_definitions(home), DAY)
    assert result.success
    decision = table(home, "ml.retrain_decision").row(0, named=True)
    assert (decision["status"], decision["n_predictions"], decision["matured_labels"]) == ("insufficient_data", 300, 0)
    assert decision["reason"].startswith("0 out-of-sample matured labels (< 200), so performance is unknown")
    assert metadata(result, "ml/monitoring")["predictions"].value == 300


def scored_days(days: list[date], per_day: int) -> pl.DataFrame:
    n = len(days) * per_day
    return pl.DataFrame(
        {
            "partition_date": [d for d in days for _ in range(per_day)],
            "ID": range(n),
            "probability": [0.3] * n,
            "predicted_label": pl.Series([0] * n, dtype=pl.Int8),
            "model_name": ["credit_default"] * n,
            "model_version": ["1"] * n,
            "feature_set_version": ["credit-v1"] * n,
            "in_sample": [False] * n,
            "scored_at": [datetime(2025, 3, 8, tzinfo=UTC)] * n,
        }
    )


def test_a_small_dataset_grows_its_windows_to_the_rules_minimums_and_says_so(home):
    """20 predictions a day: 7 days hold 140, so drift is measured over 14 days (280); no label has matured in any
    window, so the label window keeps its 7 days rather than spanning months of nothing."""
    from datetime import timedelta

    scored = scored_days([DAY - timedelta(days=i) for i in range(60)], 20)
    home.home.mkdir(parents=True)
    with duckdb.connect(str(home.warehouse_path)) as connection:
        connection.register("scored", scored)
        connection.execute("create schema ml")
        connection.execute("create table ml.predictions as select * from scored")
    result = monitor(build_definitions(home), DAY)
    assert result.success
    windows = {
        row["subject"]: row
        for row in table(home, "ml.monitoring").filter(pl.col("kind") == "window").iter_rows(named=True)
    }
    assert (windows["predictions"]["value"], windows["predictions"]["n"]) == (14, 280)
    assert (windows["matured_labels"]["value"], windows["matured_labels"]["n"]) == (7, 0)
    decision = table(home, "ml.retrain_decision").row(0, named=True)
    assert (decision["status"], decision["n_predictions"]) == ("insufficient_data", 280)
    assert decision["reason"].endswith("; predictions window grown from 7 to 14 days to reach 200 predictions")
    shown = metadata(result, "ml/monitoring")
    assert shown["window"].value == f"{DAY - timedelta(days=13)}..{DAY}"
    assert shown["label_window"].value == f"{DAY - timedelta(days=6)}..{DAY}"


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    from medallion.settings import Settings

    home = Settings(home=tmp_path_factory.mktemp("home"), env="local")
    land(
        home,
        "applications",
        DAY1,
        "a.csv",
        "\n".join([HEADER, *[application(i) for i in range(1, 20)], application(20, age="250")]) + "\n",
    )
    land(
        home,
        "applications",
        DAY1.replace(day=2),
        "a.csv",
        "\n".join([HEADER, application(21, bill2="0"), *[application(i) for i in range(22, 31)]]) + "\n",
    )
    defs = build_definitions(home)
    assert run_etl(defs, DAY1, DAY1.replace(day=2)).success
    assert monitor(defs, DAY1.replace(day=2)).success
    return home


def test_the_quality_trend_shows_quarantine_and_null_rates_per_day(landed):
    rows = table(landed, "ml.monitoring")
    quarantine = rows.filter(pl.col("kind") == "quarantine_rate", pl.col("subject") == "applications").sort("day")
    assert quarantine.select("day", "value", "n").rows() == [(DAY1, 0.05, 20), (DAY1.replace(day=2), 0.0, 10)]
    nulls = rows.filter(pl.col("kind") == "null_rate", pl.col("subject") == "payment_ratio_latest").sort("day")
    # The latest payment ratio is null when nothing was owed the month before (BILL_AMT2 = 0).
    assert nulls["value"].to_list() == [0.0, 0.1] and nulls["n"].to_list() == [19, 10]
    assert rows["window_start"].unique().to_list() == [date(2024, 12, 27)]
