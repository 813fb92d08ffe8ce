"""Training on real tables: point-in-time correctness, reproducibility, MLflow registry entries, bad windows."""

from datetime import timedelta

import polars as pl

from medallion.logic.ml.model_tags import ModelTags
from medallion_tests.conftest import DAY1, checks_by_name, table
from medallion_tests.ml.conftest import AS_OF, DELAY, ROWS_PER_DAY, mlflow_of, train


def failure_message(result) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    return (
        failure.step_failure_data.user_failure_data.description
        if failure.step_failure_data.user_failure_data
        else str(failure.step_failure_data.error)
    )


def test_training_set_uses_only_labels_known_on_the_day(world):
    home, defs, instance = world
    day = DAY1 + timedelta(days=10)
    result = train(defs, instance, day)
    assert result.success, failure_message(result)
    rows = table(home, "ml.training_set", f"where partition_date = '{day}'")
    labels = table(home, "gold.labels")
    assert rows["label_date"].max() <= day
    known = labels.filter(pl.col("label_date") <= day)
    assert rows.height == known.height == (10 - DELAY + 1) * ROWS_PER_DAY
    assert labels.filter(pl.col("label_date") > day).height > 0  # later labels exist and were left out
    assert checks_by_name(result)[("ml/training_set", "labels_not_from_future")].passed


def test_same_seed_gives_same_metrics_and_registers_versions(world):
    home, defs, instance = world
    metrics = ["roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall", "accuracy", "threshold", "n"]
    first = train(defs, instance)
    before = table(home, "ml.model", f"where partition_date = '{AS_OF}'")
    second = train(defs, instance)
    models = pl.concat([before, table(home, "ml.model", f"where partition_date = '{AS_OF}'")])
    assert first.success and second.success
    assert models.select(metrics).row(0) == models.select(metrics).row(1)
    assert models["model_version"].n_unique() == 2
    client = mlflow_of(home).client()
    version = client.get_model_version("credit_default", models["model_version"][1])
    assert version.tags["feature_set_version"] == "credit-v1"
    assert version.tags["dagster.partition"] == str(AS_OF)
    assert version.tags["dagster.run_id"] == second.run_id
    tags = ModelTags.from_mlflow(version.tags, version.version)
    assert tags.window_start == DAY1 and tags.as_of == AS_OF
    assert tags.window_start <= tags.train_start <= tags.train_end < tags.valid_start <= tags.valid_end
    assert tags.valid_end < tags.holdout_start <= tags.holdout_end <= tags.window_end
    assert tags.holdout_auc == models["roc_auc"][1] and tags.threshold == models["threshold"][1]
    assert tags.holdout_rows == models["n_holdout"][1] == models["n"][1]
    assert models["measured_on"][1].startswith(f"holdout: {tags.holdout_rows} rows of application days")
    run = client.get_run(version.run_id)
    assert run.data.tags["dagster.run_id"] == second.run_id
    assert run.data.metrics["holdout.roc_auc"] == models["roc_auc"][1]
    assert run.data.metrics["holdout.f1"] == models["f1"][1]
    assert not any(name.startswith("selection.") and name.endswith(".f1") for name in run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(version.run_id, "plots")} | {
        a.path for a in client.list_artifacts(version.run_id, "reference")
    }
    assert {
        "plots/confusion_matrix.png",
        "plots/roc_curve.png",
        "plots/calibration.png",
        "reference/feature_bins.json",
    } <= artifacts


def test_quality_floor_blocks_evaluation(world):
    home, defs, instance = world
    config = {"ops": {"ml__model": {"config": {"candidates": ["logistic_regression"], "auc_floor": 0.99}}}}
    result = train(defs, instance, run_config=config)
    check = checks_by_name(result)[("ml/model", "model_quality_floor")]
    auc = check.metadata["holdout_auc"].value
    assert not check.passed and "below the floor 0.99 (TrainingConfig.auc_floor)" in check.description
    assert (
        check.description.startswith("dataset credit_default, version ")
        and f"holdout AUC {auc:.4f}" in check.description
    )
    evaluated = {e.step_key for e in result.all_events if e.is_successful_output}
    assert "ml__model_evaluation" not in evaluated


def test_window_without_labels_fails_naming_days_and_why(world):
    _, defs, instance = world
    result = train(defs, instance, DAY1 + timedelta(days=1))
    assert not result.success
    message = failure_message(result)
    assert "no application between" in message and "2025-01-02" in message and "label" in message
    assert (
        message.startswith("dataset credit_default: ml/training_set 2025-01-02")
        and "materialize gold/labels" in message
    )
