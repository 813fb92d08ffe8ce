"""Dagster ↔ MLflow: absolute links from the ML assets' metadata to the run, version and experiment they name, read
back from a real MLflow store; the run links back to the Dagster run; MLflow holds what its UI needs (classic
experiment kind, a child run per candidate, datasets with their days, descriptions, a named signature)."""

import base64
import re
import shutil

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.logic.etl.features import FEATURE_NAMES
from medallion.settings import Settings
from medallion_tests.ml.conftest import AS_OF, LAST_APP_DAY, mlflow_of, predict, train, with_mlflow_store

MLFLOW_UI, DAGSTER_UI = "http://127.0.0.1:5999", "http://127.0.0.1:3999"
CANDIDATES = ["logistic_regression", "hist_gradient_boosting"]
RUN_URL = re.compile(rf"{re.escape(MLFLOW_UI)}/#/experiments/(\w+)/runs/(\w+)\?workflowType=machine_learning")
VERSION_URL = re.compile(
    rf"{re.escape(MLFLOW_UI)}/#/models/credit_default/versions/(\d+)\?workflowType=machine_learning"
)
EXPERIMENT_URL = re.compile(rf"{re.escape(MLFLOW_UI)}/#/experiments/(\w+)\?workflowType=machine_learning")


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory, empty_mlflow_store):
    """The session's ETL'd world with UI URLs of its own and an empty MLflow store: trained on two candidates, then
    one day predicted."""
    source, _, _ = world
    home = Settings(
        home=tmp_path_factory.mktemp("links") / "home", env="local", mlflow_ui_url=MLFLOW_UI, dagster_ui_url=DAGSTER_UI
    )
    shutil.copytree(source.landing_dir, home.landing_dir)
    shutil.copy(source.warehouse_path, home.warehouse_path)
    with_mlflow_store(home, empty_mlflow_store)
    defs = build_definitions(home)
    with dg.instance_for_test() as instance:
        config = {"ops": {"ml__model": {"config": {"candidates": CANDIDATES, "auc_floor": 0.6}}}}
        training = train(defs, instance, AS_OF, config)
        assert training.success
        prediction = predict(defs, instance, LAST_APP_DAY, LAST_APP_DAY)
        assert prediction.success
        yield home, training, prediction


def metadata(result, asset: str) -> dict:
    (event,) = [m for m in result.get_asset_materialization_events() if m.asset_key.to_user_string() == asset]
    return event.materialization.metadata


def url(entry) -> str:
    assert isinstance(entry, dg.UrlMetadataValue)
    return entry.url


def test_model_metadata_links_to_the_run_version_and_experiment_in_the_store(trained):
    home, training, _ = trained
    client = mlflow_of(home).client()
    meta = metadata(training, "ml/model")
    experiment_id, run_id = RUN_URL.fullmatch(url(meta["mlflow_run"])).groups()
    run = client.get_run(run_id)
    assert run.info.experiment_id == experiment_id and run_id == meta["mlflow_run_id"].value
    (version_number,) = VERSION_URL.fullmatch(url(meta["mlflow_model_version"])).groups()
    version = client.get_model_version("credit_default", version_number)
    assert version.run_id == run_id and version_number == meta["model_version"].value
    (linked_experiment,) = EXPERIMENT_URL.fullmatch(url(meta["mlflow_experiment"])).groups()
    experiment = client.get_experiment(linked_experiment)
    assert linked_experiment == experiment_id and experiment.name == "medallion/training_job"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "child run per candidate" in experiment.tags["mlflow.note.content"]


def test_the_mlflow_run_links_back_to_the_dagster_run_and_is_described(trained):
    home, training, _ = trained
    client = mlflow_of(home).client()
    run = client.get_run(metadata(training, "ml/model")["mlflow_run_id"].value)
    dagster_run = f"{DAGSTER_UI}/runs/{training.run_id}"
    assert run.data.tags["dagster.run_url"] == dagster_run
    note = run.data.tags["mlflow.note.content"]
    assert f"]({dagster_run})" in note
    assert f"Training of `credit_default` (label `default_payment_next_month`) as of {AS_OF}" in note
    version = client.get_model_version("credit_default", metadata(training, "ml/model")["model_version"].value)
    assert version.tags["dagster.run_url"] == dagster_run
    assert "trained as of" in version.description and f"]({dagster_run})" in version.description
    assert f"]({MLFLOW_UI}/#/experiments/" in version.description
    assert "**Promotion**" in version.description  # ml/model_evaluation added its decision
    assert "models:/credit_default@champion" in client.get_registered_model("credit_default").description


def test_one_child_run_per_candidate_with_its_params_and_validation_metrics(trained):
    home, training, _ = trained
    client = mlflow_of(home).client()
    parent = client.get_run(metadata(training, "ml/model")["mlflow_run_id"].value)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(child.info.run_name for child in children) == sorted(CANDIDATES)
    version = client.get_model_version("credit_default", metadata(training, "ml/model")["model_version"].value)
    for child in children:
        name = child.info.run_name
        assert child.data.params["candidate"] == name and child.data.tags["candidate"] == name
        assert child.data.params["estimator"] in ("LogisticRegression", "HistGradientBoostingClassifier")
        assert any(key.startswith("model.") for key in child.data.params)
        assert {"selection.roc_auc", "selection.pr_auc", "selection.log_loss", "selection.brier"} <= set(
            child.data.metrics
        )
        assert child.data.tags["dagster.run_id"] == training.run_id
        if child.data.tags["selected"] == "true":
            assert parent.data.tags["selected_candidate_run_id"] == child.info.run_id
            assert name == parent.data.tags["selected_candidate"] == version.tags["candidate"]
            assert child.data.metrics["selection.roc_auc"] == float(version.tags["selection_auc"])
        assert {d.dataset.name.split(" ", 1)[1].split(" ")[0] for d in child.inputs.dataset_inputs} == {
            "training",
            "validation",
        }
    assert [c.data.tags["selected"] for c in children].count("true") == 1
    assert not any(key.startswith("selection.") for key in parent.data.metrics)


def test_training_validation_and_holdout_days_are_logged_inputs(trained):
    home, training, _ = trained
    client = mlflow_of(home).client()
    meta = metadata(training, "ml/model")
    run = client.get_run(meta["mlflow_run_id"].value)
    tags = client.get_model_version("credit_default", meta["model_version"].value).tags
    logged = {}
    for dataset_input in run.inputs.dataset_inputs:
        input_tags = {tag.key: tag.value for tag in dataset_input.tags}
        logged[input_tags["mlflow.data.context"]] = (dataset_input.dataset, input_tags)
    expected = {
        "training": (tags["train_start"], tags["train_end"]),
        "validation": (tags["valid_start"], tags["valid_end"]),
        "holdout": (tags["holdout_start"], tags["holdout_end"]),
    }
    assert set(logged) == set(expected)
    for context, (first, last) in expected.items():
        dataset, input_tags = logged[context]
        assert dataset.name == f"credit_default {context} {first}..{last}" and input_tags["days"] == f"{first}..{last}"
        assert f"{DAGSTER_UI}/assets/ml/training_set?view=partitions&partition={AS_OF}" in dataset.source
    assert int(logged["holdout"][1]["rows"]) == meta["holdout_rows"].value


def test_the_registered_signature_names_the_features(trained):
    import mlflow

    home, training, _ = trained
    mlflow.set_tracking_uri(home.local_mlflow_uri)
    version = metadata(training, "ml/model")["model_version"].value
    signature = mlflow.models.get_model_info(f"models:/credit_default/{version}").signature
    assert signature.inputs.input_names() == list(FEATURE_NAMES)
    assert signature.outputs.input_names() == ["probability", "predicted_label"]


def test_holdout_plots_are_images_in_the_model_metadata(trained):
    _, training, _ = trained
    meta = metadata(training, "ml/model")
    for name in ("roc_curve", "calibration", "confusion_matrix"):
        markdown = meta[name]
        assert isinstance(markdown, dg.MarkdownMetadataValue)
        encoded = re.fullmatch(r"!\[[^\]]+\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown.md_str).group(1)
        assert base64.b64decode(encoded).startswith(b"\x89PNG\r\n\x1a\n")


def test_evaluation_and_predictions_link_the_version_they_used(trained):
    home, training, prediction = trained
    client = mlflow_of(home).client()
    champion = mlflow_of(home).version_by_alias("champion")
    for meta in (metadata(training, "ml/model_evaluation"), metadata(prediction, "ml/predictions")):
        assert VERSION_URL.fullmatch(url(meta["mlflow_model_version"])).group(1) == str(champion.version)
        experiment_id, run_id = RUN_URL.fullmatch(url(meta["mlflow_run"])).groups()
        assert run_id == champion.run_id and client.get_run(run_id).info.experiment_id == experiment_id
        assert EXPERIMENT_URL.fullmatch(url(meta["mlflow_experiment"])).group(1) == experiment_id


def test_prod_stack_points_links_at_its_own_ports(tmp_path):
    from medallion.tools.prod_stack import Ports, ProdStack

    stack = ProdStack(tmp_path, Ports(postgres=5401, mlflow=5101, code_server=4101, webserver=3101))
    stack.postgres.password_file.parent.mkdir(parents=True)
    stack.postgres.password_file.write_text("unused")  # environment() names the databases by URL
    stack.redis.prepare()  # and the broker
    settings = Settings.from_env(stack.environment())
    assert (settings.mlflow_ui_url, settings.dagster_ui_url) == ("http://127.0.0.1:5101", "http://127.0.0.1:3101")
