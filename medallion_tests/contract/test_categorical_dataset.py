"""A dataset with categorical string columns and a label coded "good"/"bad", brought in by its contract alone
(medallion_tests/fixtures/toy_cards.yaml), through ETL → train → promote → predict → monitor → score."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from medallion.contract import ContractError, load_contract
from medallion.contract.model import parse_contract
from medallion.definitions import build_definitions
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.logic.etl.labels import build_labels
from medallion.logic.ml.training import build_pipeline, train_candidates
from medallion.settings import Settings
from medallion.tools.score import score_file
from medallion_tests.conftest import DAY1, land, mlflow_of, run_etl, scaffolded_project, table, with_mlflow_store

CARDS = Path(__file__).resolve().parents[1] / "fixtures" / "toy_cards.yaml"
CONTRACT = load_contract(CARDS)
REGIONS, CHANNELS = ["north", "south", "east", "west"], ["web", "branch", None]
BAD_RATE = {"north": 0.05, "south": 0.6, "east": 0.15, "west": 0.4}
APP_DAYS, ROWS_PER_DAY, DELAY = 20, 150, 2
TRAIN_DAY = DAY1 + timedelta(days=13)  # labels of application days 1..12 are known
LAST_APP_DAY = DAY1 + timedelta(days=APP_DAYS - 1)
MONITOR_DAY = LAST_APP_DAY + timedelta(days=DELAY)
FAST = {"ops": {"ml__model": {"config": {"candidates": ["logistic_regression"], "auc_floor": 0.6}}}}


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


@pytest.fixture(scope="module")
def cards_world(tmp_path_factory, empty_mlflow_store):
    home = Settings(home=tmp_path_factory.mktemp("cards_home"), env="local")
    with_mlflow_store(home, empty_mlflow_store)
    land_world(home)
    with scaffolded_project({"toy_cards": (CARDS, True)}) as (root, _):
        defs = build_definitions(home, project_root=root)
    with dg.instance_for_test() as instance:
        yield home, defs, instance


def run(defs: dg.Definitions, job: str, instance, first: date, last: date | None = None, run_config=None):
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": (last or first).isoformat(),
    }
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=tags, run_config=run_config, raise_on_error=False
    )


def test_the_categorical_dataset_goes_from_landing_to_monitoring_and_scoring(cards_world, tmp_path):
    home, defs, instance = cards_world
    assert run_etl(defs, DAY1, MONITOR_DAY, instance=instance).success
    labels = table(home, "gold.card_labels")
    assert set(labels["status"].unique()) == {0, 1} and labels.height == APP_DAYS * ROWS_PER_DAY

    trained = run(defs, "training_job", instance, TRAIN_DAY, run_config=FAST)
    assert trained.success
    tracking = mlflow_of(home)
    champion = tracking.version_by_alias("champion")
    holdout_auc = float(champion.tags["holdout_auc"])
    assert holdout_auc > 0.7, holdout_auc
    evaluation = table(home, "ml.model_evaluation").row(0, named=True)
    assert evaluation["promoted"]

    first_new = TRAIN_DAY + timedelta(days=1)
    assert run(defs, "inference_job", instance, first_new, LAST_APP_DAY).success
    predictions = table(home, "ml.predictions")
    assert predictions.height == (LAST_APP_DAY - TRAIN_DAY).days * ROWS_PER_DAY and not predictions["in_sample"].any()

    monitoring_config = {"ops": {"ml__monitoring": {"config": {"window_days": 14}}}}
    monitored = defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=str(MONITOR_DAY), run_config=monitoring_config, raise_on_error=False
    )
    assert monitored.success
    live = table(home, "ml.monitoring", "where kind = 'performance' and subject = 'roc_auc'").row(0, named=True)
    assert live["n"] == predictions.height and live["value"] > 0.7
    assert table(home, "ml.retrain_decision").height == 1

    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model("models:/credit_default@champion")
    gold = table(home, "gold.card_features", f"where partition_date = '{LAST_APP_DAY}'").sort("card_id")
    served = pyfunc.predict(gold.select("channel", "region", "amount").to_pandas())  # by name, in any order
    day = predictions.filter(pl.col("partition_date") == LAST_APP_DAY).sort("card_id")
    assert served["probability"].tolist() == day["probability"].to_list()

    landed = next((home.landing_dir / "cards" / LAST_APP_DAY.isoformat()).glob("*.csv"))
    report = score_file("models:/credit_default@champion", landed, tmp_path / "out.parquet", CONTRACT, tracking)
    scored = pl.read_parquet(tmp_path / "out.parquet").sort("card_id")
    assert report.scored == ROWS_PER_DAY and scored["probability"].to_list() == day["probability"].to_list()
