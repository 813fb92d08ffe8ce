"""Links between the UIs: absolute, from a base URL with or without a trailing slash or a path prefix."""

from medallion.logic.ml import links


def test_mlflow_links_are_hash_routes_opening_in_model_training_mode():
    base = "http://127.0.0.1:5000/"
    assert (
        links.mlflow_experiment_url(base, "3") == "http://127.0.0.1:5000/#/experiments/3?workflowType=machine_learning"
    )
    assert (
        links.mlflow_run_url(base, "3", "abc")
        == "http://127.0.0.1:5000/#/experiments/3/runs/abc?workflowType=machine_learning"
    )
    assert (
        links.mlflow_model_version_url("https://host/mlflow", "credit default", "7")
        == "https://host/mlflow/#/models/credit%20default/versions/7?workflowType=machine_learning"
    )


def test_dagster_links_name_the_run_and_the_asset_partition():
    assert links.dagster_run_url("http://127.0.0.1:3000", "r-1") == "http://127.0.0.1:3000/runs/r-1"
    assert (
        links.dagster_asset_url("http://127.0.0.1:3000/", "ml/training_set", "2025-01-23")
        == "http://127.0.0.1:3000/assets/ml/training_set?view=partitions&partition=2025-01-23"
    )
    assert links.dagster_asset_url("http://h", "gold/features") == "http://h/assets/gold/features"
