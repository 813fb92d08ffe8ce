"""The serving loads through the real definitions: inference_job scores days and loads them into DuckDB, a real
PostgreSQL and Delta; reruns replace, a server that is down fails the step by name and a retry loads."""

from __future__ import annotations

import shutil
from datetime import timedelta

import dagster as dg
import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion.settings import PG_URL_VAR, Settings
from medallion_tests.conftest import DAY1, checks_by_name, pg_rows, table
from medallion_tests.ml.conftest import mlflow_of, predict, train, with_mlflow_store

ALL_TARGETS = ("duckdb", "postgres", "delta")
DAYS = 5
LAST = DAY1 + timedelta(days=DAYS - 1)


@pytest.fixture
def serving_world(world, tmp_path, empty_mlflow_store, pg_url, monkeypatch):
    """The session's ETL'd warehouse, serving to every target, with a champion trained."""
    source, _, _ = world
    home = Settings(home=tmp_path / "home", env="local", serving_targets=ALL_TARGETS, pg_url=True)
    shutil.copytree(source.landing_dir, home.landing_dir)
    shutil.copy(source.warehouse_path, home.warehouse_path)
    with_mlflow_store(home, empty_mlflow_store)
    monkeypatch.setenv(PG_URL_VAR, pg_url)
    defs = build_definitions(home)
    with dg.instance_for_test() as instance:
        assert train(defs, instance).success
        yield home, defs, instance, pg_url


def served_counts(home: Settings, pg_url: str) -> dict[str, dict]:
    duck = table(home, "serving.predictions").group_by("partition_date").len()
    delta = pl.read_delta(f"{home.delta_root}/predictions").group_by("partition_date").len()
    return {
        "duckdb": dict(duck.iter_rows()),
        "postgres": dict(pg_rows(pg_url, "select partition_date, count(*) from serving.predictions group by 1")),
        "delta": dict(delta.iter_rows()),
    }


def materializations(result, key: str) -> list[dg.AssetMaterialization]:
    return [m for m in result.asset_materializations_for_node("serving_loads") if m.asset_key.to_user_string() == key]


def test_inference_job_serves_each_day_to_every_target_and_a_rerun_replaces(serving_world):
    home, defs, instance, pg_url = serving_world
    result = predict(defs, instance, DAY1, LAST)
    assert result.success
    scored = table(home, "ml.predictions")
    expected = dict(scored.group_by("partition_date").len().iter_rows())
    assert len(expected) == DAYS
    assert served_counts(home, pg_url) == {target: expected for target in ALL_TARGETS}

    served = pl.DataFrame(
        pg_rows(pg_url, 'select "ID", partition_date, probability, predicted_label from serving.predictions'),
        schema=["ID", "partition_date", "probability", "predicted_label"],
        orient="row",
    )
    joined = scored.join(served, on=["ID", "partition_date"], suffix="_served")
    assert joined.height == scored.height
    assert (joined["probability"] == joined["probability_served"]).all()
    assert (joined["predicted_label"] == joined["predicted_label_served"]).all()

    summary = pg_rows(
        pg_url,
        "select partition_date, rows, mean_probability, predicted_positive_rate, model_version "
        "from serving.daily_summary order by 1",
    )
    champion = str(mlflow_of(home).version_by_alias("champion").version)
    by_day = scored.group_by("partition_date").agg(
        pl.len(), pl.col("probability").mean(), pl.col("predicted_label").cast(pl.Float64).mean().alias("rate")
    )
    for day, rows, mean_probability, rate, version in summary:
        truth = by_day.filter(pl.col("partition_date") == day).row(0, named=True)
        assert (rows, version) == (truth["len"], champion)
        assert mean_probability == pytest.approx(truth["probability"])
        assert rate == pytest.approx(truth["rate"])
    assert [row[0] for row in summary] == sorted(expected)

    checks = checks_by_name(result)
    for check in (
        ("serving/predictions", "served_rows_match_predictions"),
        ("serving/daily_summary", "one_summary_row_per_day"),
    ):
        assert checks[check].passed, checks[check].metadata
    assert (
        checks[("serving/predictions", "served_rows_match_predictions")].metadata["rows_expected"].value
        == scored.height
    )

    metadata = materializations(result, "serving/predictions")[0].metadata
    assert metadata["run_rows"].value == scored.height
    first_day = materializations(result, "serving/predictions")[0].partition
    assert metadata["rows_out"].value == scored.filter(pl.col("partition_date").cast(pl.String) == first_day).height
    for target in ALL_TARGETS:
        assert metadata[f"{target}_rows"].value == scored.height
        assert metadata[f"{target}_seconds"].value >= 0
    assert metadata["postgres_location"].value.endswith("serving.predictions")
    assert pg_url.split(":")[2].split("@")[0] not in metadata["postgres_location"].value

    assert predict(defs, instance, DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)).success
    assert served_counts(home, pg_url) == {target: expected for target in ALL_TARGETS}
    assert len(pg_rows(pg_url, "select * from serving.daily_summary")) == DAYS


def test_postgres_down_fails_the_step_by_name_and_a_retry_loads(serving_world, monkeypatch, free_tcp_port):
    home, defs, instance, pg_url = serving_world
    monkeypatch.setenv(PG_URL_VAR, f"postgresql://medallion:s3cret@127.0.0.1:{free_tcp_port}/served")
    failed = predict(defs, instance, DAY1, DAY1)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert f"127.0.0.1:{free_tcp_port}, database 'served'" in message and "s3cret" not in message
    assert "serving/predictions" in message

    monkeypatch.setenv(PG_URL_VAR, pg_url)
    assert predict(defs, instance, DAY1, DAY1).success
    day_rows = table(home, "ml.predictions", f"where partition_date = '{DAY1}'").height
    assert pg_rows(pg_url, "select count(*) from serving.predictions") == [(day_rows,)]
