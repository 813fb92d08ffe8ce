"""A dataset with categorical string columns and a label coded "good"/"bad", brought in by its contract alone
(medallion_tests/fixtures/toy_cards.yaml), through ETL → train → promote → predict → monitor → score beside the shipped
credit_default, each with its own asset keys, tables, jobs, retrain sensor and registered model."""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from medallion.components import project_datasets
from medallion.contract import ContractError, load_contract
from medallion.contract.model import parse_contract
from medallion.definitions import build_definitions
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.logic.etl.labels import build_labels
from medallion.logic.ml.training import build_pipeline, train_candidates
from medallion.resources.environments import resources_for
from medallion.settings import Settings
from medallion.tools.cli import score_dataset
from medallion.tools.score import ScoringInputError
from medallion.tools.status import render_status
from medallion_tests.conftest import (
    CREDIT_CONTRACT,
    CREDIT_ML,
    DAY1,
    land,
    land_outcomes,
    land_reference_rows,
    mlflow_of,
    run_etl,
    scaffolded_project,
    table,
    with_mlflow_store,
)

CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "toy_cards.yaml"
CONTRACT = load_contract(CARDS)
REGIONS, CHANNELS = ["north", "south", "east", "west"], ["web", "branch", None]
BAD_RATE = {"north": 0.05, "south": 0.6, "east": 0.15, "west": 0.4}
APP_DAYS, ROWS_PER_DAY, DELAY = 20, 150, 2
TRAIN_DAY = DAY1 + timedelta(days=13)  # labels of application days 1..12 are known
LAST_APP_DAY = DAY1 + timedelta(days=APP_DAYS - 1)
MONITOR_DAY = LAST_APP_DAY + timedelta(days=DELAY)


def applications(day_index: int, rows: int = ROWS_PER_DAY) -> pl.DataFrame:
    rng = np.random.default_rng(day_index)
    region = rng.choice(REGIONS, rows)
    channel = [CHANNELS[i] for i in rng.integers(0, len(CHANNELS), rows)]
    web = np.array([c == "web" for c in channel])
    bad = rng.random(rows) < np.array([BAD_RATE[r] for r in region]) + 0.15 * web
    return pl.DataFrame(
        {
            "card_id": np.arange(rows) + 1 + day_index * rows,
            "amount": rng.gamma(2.0, 500.0, rows).round(2),
            "region": region,
            "channel": channel,
            "note": [None] * rows,
            "status": np.where(bad, "bad", "good"),
        },
        schema_overrides={"channel": pl.String, "note": pl.String},
    )


def land_world(home: Settings) -> None:
    for i in range(APP_DAYS):
        day = DAY1 + timedelta(days=i)
        frame = applications(i)
        land(home, "cards", day, "cards.csv", frame.drop("status").write_csv())
        outcomes = frame.select(
            "card_id",
            "status",
            pl.lit(str(day + timedelta(days=DELAY))).alias("observed_on"),
            pl.lit(str(day)).alias("applied_on"),
        )
        land(home, "card_outcomes", day + timedelta(days=DELAY), "card_outcomes.csv", outcomes.write_csv())


def test_the_label_positive_value_is_part_of_the_contract():
    assert CONTRACT.label_positive == "bad"
    assert load_contract(Path(__file__).resolve().parents[1] / "fixtures" / "toy_loans.yaml").label_positive is None
    raw = {
        "name": "x",
        "entity": {"feed": "a", "key": "id", "columns": [{"name": "id", "type": "int64"}]},
        "outcome": {
            "feed": "b",
            "key": "id",
            "columns": [
                {"name": "id", "type": "int64"},
                {"name": "y", "type": "string", "allowed": ["good", "bad"]},
                {"name": "t", "type": "date"},
            ],
        },
        "label": "y",
        "label_time": "t",
        "label_positive": "ugly",
    }
    with pytest.raises(ContractError, match=r"`label_positive: 'ugly'` must be one of \['good', 'bad'\]"):
        parse_contract(raw)
    raw["outcome"]["columns"][1] = {"name": "y", "type": "int8", "allowed": [1, 2]}
    with pytest.raises(ContractError, match="label_positive: 'ugly'"):
        parse_contract(raw)
    assert parse_contract({**raw, "label_positive": 2}).label_positive == 2


def test_labels_store_the_positive_value_as_1():
    outcomes = pl.DataFrame(
        {
            "partition_date": [DAY1] * 3,
            "card_id": [1, 2, 3],
            "status": ["bad", "good", "bad"],
            "observed_on": [DAY1] * 3,
        }
    )
    apps = pl.DataFrame({"partition_date": [DAY1] * 3, "card_id": [1, 2, 3]})
    labels = build_labels(outcomes, apps, "card_id", "status", "observed_on", positive="bad").labels
    assert labels.sort("card_id")["status"].to_list() == [1, 0, 1] and labels.schema["status"] == pl.Int8


def test_string_columns_with_allowed_values_are_categorical_features():
    feature_set = feature_set_for(CONTRACT)
    assert feature_set.names == ["amount", "region", "channel"]  # `note` has no allowed values: not a feature
    assert feature_set.categories == {"region": tuple(REGIONS), "channel": ("web", "branch")}
    assert feature_set.specs["region"] == (0, 3, 0.0) and feature_set.specs["channel"] == (0, 1, 0.5)
    frame = pl.DataFrame(
        {"partition_date": [DAY1] * 3, "card_id": [1, 2, 3], "amount": [1.0, 2.0, 3.0]}
        | {"region": ["west", "north", "east"], "channel": ["branch", None, "web"]}
    )
    features = feature_set.engineer(frame)
    assert features.rows() == [(DAY1, 1, 1.0, 3.0, 1.0), (DAY1, 2, 2.0, 0.0, None), (DAY1, 3, 3.0, 2.0, 0.0)]
    toy_loans = feature_set_for(load_contract(CARDS.with_name("toy_loans.yaml")))
    assert toy_loans.categories == {} and toy_loans.version == "toy_loans-identity-" + toy_loans.version[-8:]


def test_the_pipeline_one_hot_encodes_categorical_features_with_missing_as_a_level():
    feature_set = feature_set_for(CONTRACT)
    pipeline = build_pipeline("logistic_regression", feature_set.names, 0, feature_set.categories)
    x = np.array([[1.0, 0.0, 0.0], [2.0, 3.0, np.nan], [3.0, 1.0, 1.0], [4.0, 2.0, 0.0]])
    pipeline.fit(x, np.array([0, 1, 0, 1]))
    encoded = pipeline.named_steps["encode"].transform(x)
    # amount, region's -1 and 4 values, channel's -1 and 2 values
    assert encoded.shape == (4, 1 + 5 + 3)
    assert encoded[1].tolist() == [2.0, 0, 0, 0, 0, 1, 1, 0, 0]
    assert pipeline.predict_proba(np.array([[1.0, 9.0, 0.0]])).shape == (1, 2)  # an unknown code: all zeros


def test_training_learns_from_the_categories_alone():
    frame = pl.concat([applications(i) for i in range(12)])
    feature_set = feature_set_for(CONTRACT)
    days = [DAY1 + timedelta(days=i) for i in range(12) for _ in range(ROWS_PER_DAY)]
    features = feature_set.engineer(frame.with_columns(pl.Series("partition_date", days)))
    training = features.with_columns(
        (frame["status"] == "bad").cast(pl.Int8).alias("status"), pl.col("partition_date").alias("application_date")
    )
    result = train_candidates(
        training, feature_set.names, "status", candidates=["logistic_regression"], categories=feature_set.categories
    )
    assert result.holdout_metrics["roc_auc"] > 0.7


CARDS_ML = {"candidates": ["logistic_regression"], "auc_floor": 0.6}  # its defs.yaml's `ml:` in this project
CREDIT_ROWS = 200
CREDIT_FAST = {"ops": {"ml__model": {"config": {"candidates": ["logistic_regression"], "auc_floor": 0.6}}}}
MONITOR = {"config": {"window_days": 14}}
DATASETS = {  # name → (training job, its run config, inference job, monitoring job, monitoring op, ML schema)
    "credit_default": ("training_job", CREDIT_FAST, "inference_job", "monitoring_job", "ml__monitoring", "ml"),
    "toy_cards": (
        "training_job__toy_cards",
        None,
        "inference_job__toy_cards",
        "monitoring_job__toy_cards",
        "ml_toy_cards__monitoring",
        "ml_toy_cards",
    ),
}


@dataclass
class World:
    home: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    datasets: dict
    results: dict[tuple[str, str], dg.ExecuteInProcessResult]


@pytest.fixture(scope="module")
def world(tmp_path_factory, empty_mlflow_store, reference):
    """The shipped credit_default and toy_cards side by side in one Definitions on one home: ETL, train (promote),
    predict, monitor (and decide) for each dataset with its own jobs."""
    home = Settings(home=tmp_path_factory.mktemp("two_datasets"), env="local")
    with_mlflow_store(home, empty_mlflow_store)
    land_world(home)
    for i in range(APP_DAYS):
        day = DAY1 + timedelta(days=i)
        part = land_reference_rows(home, reference, day, i * CREDIT_ROWS, CREDIT_ROWS)
        land_outcomes(home, part, day + timedelta(days=DELAY), name=f"outcomes_{day}.csv", applied=day)
    project = {"credit_default": (CREDIT_CONTRACT, CREDIT_ML), "toy_cards": (CARDS, CARDS_ML)}
    with scaffolded_project(project) as (root, _), dg.instance_for_test() as instance:
        defs = build_definitions(home, project_root=root)
        results = {
            (name, "etl"): run_etl(defs, DAY1, MONITOR_DAY, instance=instance, job=job)
            for name, job in (("credit_default", "etl_job"), ("toy_cards", "etl_job__toy_cards"))
        }
        for name, (training, config, inference, monitoring, monitoring_op, _) in DATASETS.items():
            results[(name, "training")] = run(defs, training, instance, TRAIN_DAY, run_config=config)
            results[(name, "inference")] = run(defs, inference, instance, TRAIN_DAY + timedelta(days=1), LAST_APP_DAY)
            results[(name, "monitoring")] = run(
                defs, monitoring, instance, MONITOR_DAY, run_config={"ops": {monitoring_op: MONITOR}}
            )
        yield World(home, defs, instance, project_datasets(root), results)


def run(defs: dg.Definitions, job: str, instance, first: date, last: date | None = None, run_config=None):
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": (last or first).isoformat(),
    }
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=tags, run_config=run_config, raise_on_error=False
    )


def test_every_run_of_both_datasets_succeeds(world):
    failed = {step: result.get_run_failure_event() for step, result in world.results.items() if not result.success}
    assert not failed, {step: event.message if event else "failed" for step, event in failed.items()}


def test_their_asset_keys_jobs_and_sensors_are_apart(world):
    keys = {key.to_user_string() for key in world.defs.resolve_asset_graph().get_all_asset_keys()}
    ml_tables = ("training_set", "model", "model_evaluation", "predictions", "monitoring", "retrain_decision")
    for schema, serving in (("ml", "serving"), ("ml_toy_cards", "serving_toy_cards")):
        assert {f"{schema}/{t}" for t in ml_tables} | {f"{serving}/predictions", f"{serving}/daily_summary"} <= keys
    repository = world.defs.get_repository_def()
    toy_job = repository.get_job("training_job__toy_cards").asset_layer.asset_graph.executable_asset_keys
    assert {key.path[0] for key in toy_job} == {"ml_toy_cards"}
    sensors = {sensor.name: sensor.job_name for sensor in repository.sensor_defs if sensor.name.startswith("retrain")}
    assert sensors == {"retrain_sensor": "training_job", "retrain_sensor__toy_cards": "training_job__toy_cards"}


def test_each_dataset_has_its_own_registered_model_and_champion(world):
    client = mlflow_of(world.home).client()
    assert sorted(model.name for model in client.search_registered_models()) == ["credit_default", "toy_cards"]
    for name, (*_, schema) in DATASETS.items():
        champion = mlflow_of(world.home, name).version_by_alias("champion")
        assert champion is not None and champion.name == name
        assert float(champion.tags["holdout_auc"]) > 0.6
        [row] = table(world.home, f"{schema}.model").rows(named=True)
        assert (row["model_name"], row["model_version"]) == (name, str(champion.version))
        assert table(world.home, f"{schema}.model_evaluation").row(0, named=True)["promoted"]
    toy_run = client.get_run(mlflow_of(world.home, "toy_cards").version_by_alias("champion").run_id)
    assert client.get_experiment(toy_run.info.experiment_id).name == "medallion/training_job__toy_cards"


def test_their_warehouse_tables_are_apart(world):
    home, scored = world.home, (LAST_APP_DAY - TRAIN_DAY).days
    credit = table(home, "ml.predictions")
    cards = table(home, "ml_toy_cards.predictions")
    assert credit.height == scored * CREDIT_ROWS and set(credit["model_name"]) == {"credit_default"}
    assert cards.height == scored * ROWS_PER_DAY and set(cards["model_name"]) == {"toy_cards"}
    assert "ID" in credit.columns and "card_id" in cards.columns and not cards["in_sample"].any()
    assert table(home, "serving.predictions").height == credit.height
    assert table(home, "serving_toy_cards.predictions").height == cards.height
    assert table(home, "serving_toy_cards.daily_summary")["model_name"].unique().to_list() == ["toy_cards"]
    assert table(home, "ml.training_set").columns != table(home, "ml_toy_cards.training_set").columns


def test_each_dataset_is_monitored_and_decided_on_its_own(world):
    home = world.home
    live = table(home, "ml_toy_cards.monitoring", "where kind = 'performance' and subject = 'roc_auc'").row(
        0, named=True
    )
    assert live["n"] == table(home, "ml_toy_cards.predictions").height and live["value"] > 0.7
    for name, (*_, schema) in DATASETS.items():
        [decision] = table(home, f"{schema}.retrain_decision").rows(named=True)
        folder = home.decisions_dir if schema == "ml" else home.decisions_dir / name
        audit = json.loads((folder / f"{MONITOR_DAY}.json").read_text())
        assert (audit["status"], audit["model_version"]) == (decision["status"], decision["model_version"])
        assert json.loads(decision["rules"])["auc_floor"] == (0.7 if schema == "ml" else CARDS_ML["auc_floor"])


def test_each_retrain_sensor_reads_its_own_decision(world):
    repository = world.defs.get_repository_def()
    floors = (("retrain_sensor", "ml", 0.7), ("retrain_sensor__toy_cards", "ml_toy_cards", CARDS_ML["auc_floor"]))
    for sensor_name, schema, floor in floors:
        sensor = repository.get_sensor_def(sensor_name)
        with dg.build_sensor_context(
            instance=world.instance, repository_def=repository, resources=resources_for(world.home)
        ) as context:
            result = sensor(context)
        [decision] = table(world.home, f"{schema}.retrain_decision").rows(named=True)
        if decision["retrain"]:
            assert [r.partition_key for r in result.run_requests] == [str(MONITOR_DAY)]
        else:
            assert not result.run_requests and f"not below floor {floor:.2f}" in result.skip_reason.skip_message


def test_the_registered_model_scores_as_the_partition_run_did_and_medallion_score_finds_it(world, tmp_path, capsys):
    import mlflow

    home = world.home
    predictions = table(home, "ml_toy_cards.predictions")
    mlflow.set_tracking_uri(mlflow_of(home).tracking_uri)
    pyfunc = mlflow.pyfunc.load_model("models:/toy_cards@champion")
    gold = table(home, "gold.card_features", f"where partition_date = '{LAST_APP_DAY}'").sort("card_id")
    served = pyfunc.predict(gold.select("channel", "region", "amount").to_pandas())  # by name, in any order
    day = predictions.filter(pl.col("partition_date") == LAST_APP_DAY).sort("card_id")
    assert served["probability"].tolist() == day["probability"].to_list()

    landed = next((home.landing_dir / "cards" / LAST_APP_DAY.isoformat()).glob("*.csv"))
    out = tmp_path / "out.parquet"
    assert score_dataset(home, world.datasets, "toy_cards", None, landed, out) == 0  # `medallion score --dataset`
    assert "with models:/toy_cards@champion (version 1)" in capsys.readouterr().out
    assert pl.read_parquet(out).sort("card_id")["probability"].to_list() == day["probability"].to_list()
    with pytest.raises(ScoringInputError, match=r"2 datasets declare ML \(credit_default, toy_cards\); choose one"):
        score_dataset(home, world.datasets, None, None, landed, out)


def test_status_reports_each_datasets_model_and_live_auc(world):
    lines = render_status(world.home).splitlines()
    assert [line for line in lines if line.startswith("model")] == ["model", "model (ml_toy_cards)"]
    for name in DATASETS:
        assert any(line.strip().startswith(f"{name} v1  AUC") and "out-of-sample" in line for line in lines), name
