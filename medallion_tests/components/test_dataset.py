"""The Dataset component: scaffolded through its own Python API into a temporary project, loaded with the real
automation, and its ETL materialized for one day on a temporary MEDALLION_HOME."""

import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from medallion.components import Dataset
from medallion.contract import load_contract
from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import DAY1, checks_by_name, land, run_etl, scaffolded_project, table

DATASET = "my_dataset"
ROWS = "id,amount,category\n1,10.5,a\n2,-3,b\n3,7,\n"
OUTCOMES = f"id,outcome,observed_on\n1,1,{DAY1}\n3,0,{DAY1}\n"


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory):
    home = Settings(home=tmp_path_factory.mktemp("home"))
    land(home, DATASET, DAY1, "rows.csv", ROWS)
    land(home, f"{DATASET}_outcomes", DAY1, "outcomes.csv", OUTCOMES)
    with scaffolded_project({DATASET: None}) as (root, defs_folder):
        defs = build_definitions(home, project_root=root)
        yield home, defs_folder / DATASET, defs, run_etl(defs, DAY1, job=f"etl_job__{DATASET}")


def test_scaffolding_writes_defs_yaml_and_a_contract_named_after_the_folder(scaffolded):
    _, folder, _, _ = scaffolded
    defs_yaml = yaml.safe_load((folder / "defs.yaml").read_text())
    assert defs_yaml["type"].endswith("Dataset")
    assert defs_yaml["attributes"] == {"contract": "contract.yaml", "ml": False}
    contract = load_contract(folder / "contract.yaml")
    assert contract.name == DATASET
    assert [feed.name for feed in contract.feeds] == [DATASET, f"{DATASET}_outcomes"]
    assert (contract.quarantine_table, contract.features_table, contract.labels_table) == (
        f"{DATASET}_quarantine",
        f"{DATASET}_features",
        f"{DATASET}_labels",
    )


def test_the_scaffolded_dataset_gets_its_assets_checks_and_its_own_etl_job(scaffolded):
    _, _, defs, _ = scaffolded
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert set(keys) == {
        f"bronze/{DATASET}",
        f"bronze/{DATASET}_outcomes",
        f"silver/{DATASET}",
        f"silver/{DATASET}_outcomes",
        f"silver/{DATASET}_quarantine",
        f"gold/{DATASET}_features",
        f"gold/{DATASET}_labels",
    }
    for name, node in keys.items():
        layer = name.split("/")[0]
        assert node.group_name == layer and node.tags["layer"] == layer and node.kinds == {"duckdb", "polars"}
        assert (node.freshness_policy is not None) == (layer == "gold")
    repository = defs.get_repository_def()
    assert set(repository.job_names) >= {f"etl_job__{DATASET}", "freshness_check_job"}
    assert "etl_job" not in repository.job_names  # the plain name is the dataset's under `ml.schema: ml` only
    assert "training_job" not in repository.job_names  # ml: false
    assert repository.get_schedule_def(f"etl_daily_schedule__{DATASET}").job_name == f"etl_job__{DATASET}"
    assert {s.name for s in repository.sensor_defs} == {
        "landing_sensor",
        "run_failure_alert_sensor",
        "check_failure_alert_sensor",
    }


def test_its_etl_runs_for_one_day_and_loses_nothing(scaffolded):
    home, _, _, result = scaffolded
    assert result.success
    checks = checks_by_name(result)
    assert checks[(f"silver/{DATASET}", "rows_conserved")].passed
    assert checks[(f"gold/{DATASET}_labels", "labels_not_before_application")].passed
    assert table(home, f"bronze.{DATASET}").height == 3
    assert table(home, f"silver.{DATASET}", "order by id")["id"].to_list() == [1, 3]
    [rejected] = table(home, f"silver.{DATASET}_quarantine").rows(named=True)
    assert rejected["reasons"] == ["out_of_range:amount"] and rejected["raw_line"] == "2,-3,b"
    features = table(home, f"gold.{DATASET}_features", "order by id")
    assert features.select("id", "amount").rows() == [(1, 10.5), (3, 7.0)]
    labels = table(home, f"gold.{DATASET}_labels", "order by id")
    assert labels.select("id", "outcome").rows() == [(1, 1), (3, 0)]


def test_the_component_builds_the_ml_lifecycle_when_asked(tmp_path):
    with scaffolded_project({DATASET: None}) as (root, defs_folder):
        defs_yaml = defs_folder / DATASET / "defs.yaml"
        defs_yaml.write_text(defs_yaml.read_text().replace("ml: false", "ml: true"))
        defs = build_definitions(Settings(home=tmp_path), project_root=root)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    ml = f"ml_{DATASET}"
    assert {f"{ml}/{table}" for table in ("training_set", "model", "predictions", "monitoring", "retrain_decision")} | {
        f"serving_{DATASET}/predictions"
    } <= keys
    repository = defs.get_repository_def()
    assert {f"{job}__{DATASET}" for job in ("training_job", "inference_job", "monitoring_job")} <= set(
        repository.job_names
    )
    assert f"retrain_sensor__{DATASET}" in {s.name for s in repository.sensor_defs}


def test_a_dataset_name_that_cannot_name_tables_is_refused():
    with create_defs_folder_sandbox() as sandbox, pytest.raises(ValueError, match="lower-case letters"):
        sandbox.scaffold_component(component_cls=Dataset, defs_path="My-Data")


def test_a_missing_contract_fails_at_load_naming_the_file(tmp_path):
    with scaffolded_project({DATASET: None}) as (root, defs_folder):
        (defs_folder / DATASET / "contract.yaml").unlink()
        with pytest.raises(Exception) as error:
            build_definitions(Settings(home=tmp_path), project_root=root)
    assert str(defs_folder / DATASET / "contract.yaml") in _messages(error.value)


def _messages(error: BaseException | None) -> str:
    found = []
    while error is not None:
        found.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(found)
