"""Daily predictions with the champion, and ad-hoc scoring that gives exactly the same probabilities."""

from datetime import timedelta

import polars as pl
import pytest

from medallion.contract import load_contract
from medallion.logic.etl.features import FEATURE_NAMES
from medallion.resources.mlflow_tracking import ModelNotFoundError
from medallion.tools.score import ScoringInputError, score_file
from medallion.tools.status import render_status
from medallion_tests.conftest import CREDIT_CONTRACT, DAY1, checks_by_name, table, table_exists
from medallion_tests.ml.conftest import LAST_APP_DAY, mlflow_of, predict, train

CONTRACT = load_contract(CREDIT_CONTRACT)
LABEL = "default_payment_next_month"


def test_without_a_champion_predictions_are_skipped_with_a_reason(fresh_world):
    home, defs, instance = fresh_world
    result = predict(defs, instance, DAY1, DAY1)
    assert result.success
    assert not table_exists(home, "ml.predictions")
    observation = next(e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION")
    assert "holds the champion alias" in observation.event_specific_data.asset_observation.metadata["skipped"].value


def test_predictions_use_the_champion_and_cover_every_gold_row(fresh_world):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    champion = mlflow_of(home).version_by_alias("champion")
    result = predict(defs, instance, DAY1, LAST_APP_DAY)
    assert result.success
    predictions = table(home, "ml.predictions")
    gold = table(home, "gold.features")
    assert predictions.height == gold.height
    assert predictions["model_version"].unique().to_list() == [str(champion.version)]
    assert predictions["probability"].is_between(0, 1).all()
    threshold = float(champion.tags["threshold"])
    assert predictions.filter((pl.col("probability") >= threshold) != (pl.col("predicted_label") == 1)).is_empty()
    checks = checks_by_name(result)
    assert all(
        checks[("ml/predictions", name)].passed
        for name in ("one_prediction_per_gold_row", "probabilities_in_unit_interval", "no_nulls")
    )


def test_adhoc_scoring_equals_partition_scoring_row_for_row(fresh_world, tmp_path):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    day = DAY1 + timedelta(days=4)
    assert predict(defs, instance, day, day).success
    landed = next((home.landing_dir / "applications" / day.isoformat()).glob("*.csv"))
    report = score_file("models:/credit_default@champion", landed, tmp_path / "out.parquet", CONTRACT, mlflow_of(home))
    adhoc = pl.read_parquet(report.output).sort("ID")
    partition = table(home, "ml.predictions", f"where partition_date = '{day}'").sort("ID")
    assert report.rejected == 0 and adhoc.height == partition.height
    assert adhoc["ID"].to_list() == partition["ID"].to_list()
    assert adhoc["probability"].to_list() == partition["probability"].to_list()
    assert adhoc.drop("scored_at", "partition_date").columns == partition.drop("scored_at", "partition_date").columns


def test_adhoc_scoring_reports_bad_rows_instead_of_scoring_them(fresh_world, tmp_path):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    landed = next((home.landing_dir / "applications" / DAY1.isoformat()).glob("*.csv"))
    lines = landed.read_text().splitlines()
    fields = lines[1].split(",")
    fields[5] = "abc"  # AGE
    lines[1] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    report = score_file("models:/credit_default@champion", bad, tmp_path / "out.parquet", CONTRACT, mlflow_of(home))
    assert report.rejected == 1 and report.scored == len(lines) - 2
    rejected = pl.read_parquet(report.rejected_output)
    assert rejected["reasons"].to_list() == [["invalid_type:AGE"]]


def test_adhoc_scoring_refuses_a_missing_model_and_missing_columns(fresh_world, tmp_path):
    home, defs, instance = fresh_world
    landed = next((home.landing_dir / "applications" / DAY1.isoformat()).glob("*.csv"))
    with pytest.raises(ModelNotFoundError, match="models:/credit_default@champion"):
        score_file("models:/credit_default@champion", landed, tmp_path / "out.parquet", CONTRACT, mlflow_of(home))
    assert train(defs, instance).success
    partial = tmp_path / "partial.parquet"
    pl.read_csv(landed).drop("AGE", "SEX").write_parquet(partial)
    with pytest.raises(ScoringInputError, match=r"lacks contract column\(s\) \['SEX', 'AGE'\]"):
        score_file("models:/credit_default/1", partial, tmp_path / "out.parquet", CONTRACT, mlflow_of(home))


def test_score_command_line(fresh_world, tmp_path):
    import subprocess
    import sys

    home, defs, instance = fresh_world
    assert train(defs, instance).success
    landed = next((home.landing_dir / "applications" / DAY1.isoformat()).glob("*.csv"))
    command = [
        sys.executable,
        "-m",
        "medallion",
        "score",
        "--model",
        "models:/credit_default@champion",
        "--input",
        str(landed),
        "--output",
        str(tmp_path / "out.parquet"),
        "--home",
        str(home.home),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "scored 300 row(s)" in done.stdout
    assert pl.read_parquet(tmp_path / "out.parquet").height == 300
    missing = subprocess.run(
        [*command[:5], "models:/credit_default@nobody", *command[6:]], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "models:/credit_default@nobody" in missing.stderr


def test_plain_mlflow_pyfunc_gives_the_partition_predictions_row_for_row(fresh_world):
    """The registered model as any MLflow client loads it: named, typed columns in; the probability and the label at
    the version's tuned threshold out, equal to ml/predictions; a missing or misnamed column is refused."""
    import mlflow

    home, defs, instance = fresh_world
    assert train(defs, instance).success
    day = DAY1 + timedelta(days=4)
    assert predict(defs, instance, day, day).success
    mlflow.set_tracking_uri(mlflow_of(home).tracking_uri)
    model = mlflow.pyfunc.load_model("models:/credit_default@champion")
    inputs = model.metadata.get_input_schema()
    assert inputs.input_names() == FEATURE_NAMES and {t.name for t in inputs.input_types()} == {"double"}
    features = table(home, "gold.features", f"where partition_date = '{day}'").sort("ID")
    partition = table(home, "ml.predictions", f"where partition_date = '{day}'").sort("ID")
    served = model.predict(features.select(FEATURE_NAMES[::-1]).to_pandas())  # column order does not matter
    assert served["probability"].tolist() == partition["probability"].to_list()
    assert served["predicted_label"].tolist() == partition["predicted_label"].to_list()
    assert partition["predicted_label"].n_unique() == 2  # the tuned threshold, not 0.5, decides: both labels occur
    with pytest.raises(Exception, match="age"):
        model.predict(features.drop("age").to_pandas())
    with pytest.raises(Exception, match="limit_bal"):
        model.predict(features.rename({"limit_bal": "LIMIT_BAL"}).to_pandas())


def test_predictions_say_which_days_the_model_used_and_monitoring_leaves_them_out(fresh_world):
    """Finding 1: trained on day 14 (labels of days 1..11 known), the model used days 1..11; ml/predictions marks
    those rows in_sample and the live AUC of ml/monitoring is measured on the other days' rows only."""
    from medallion.logic.ml.model_tags import ModelTags
    from medallion.logic.monitoring.measures import roc_auc

    home, defs, instance = fresh_world
    assert train(defs, instance, DAY1 + timedelta(days=13)).success
    tags = ModelTags.from_mlflow(mlflow_of(home).version_by_alias("champion").tags)
    assert (tags.train_start, tags.holdout_end) == (DAY1, DAY1 + timedelta(days=10))
    assert predict(defs, instance, DAY1, LAST_APP_DAY).success
    predictions = table(home, "ml.predictions")
    used = pl.col("partition_date").is_between(tags.train_start, tags.holdout_end)
    assert predictions.filter(pl.col("in_sample") != used).is_empty()
    assert predictions["in_sample"].sum() == 11 * 300
    monitoring_day = LAST_APP_DAY + timedelta(days=3)
    run_config = {"ops": {"ml__monitoring": {"config": {"window_days": 14}}}}
    result = defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=str(monitoring_day), run_config=run_config, raise_on_error=False
    )
    assert result.success
    rows = table(home, "ml.monitoring", f"where partition_date = '{monitoring_day}'")
    performance = rows.filter(pl.col("kind") == "performance")
    live = performance.filter(pl.col("subject") == "roc_auc").row(0, named=True)
    excluded = performance.filter(pl.col("subject") == "in_sample_excluded")["n"][0]
    labels = table(
        home, "gold.labels", f"where label_date between '{monitoring_day - timedelta(days=13)}' and '{monitoring_day}'"
    )
    matured = predictions.join(
        labels.select("ID", pl.col("application_date").alias("partition_date"), LABEL), on=["ID", "partition_date"]
    )
    out_of_sample = matured.filter(~pl.col("in_sample"))
    assert live["n"] == out_of_sample.height == 9 * 300 and excluded == matured.height - out_of_sample.height > 0
    assert live["value"] == pytest.approx(roc_auc(out_of_sample[LABEL].to_numpy(), out_of_sample["probability"]))
    decision = table(home, "ml.retrain_decision", f"where partition_date = '{monitoring_day}'").row(0, named=True)
    assert decision["matured_labels"] == 9 * 300 and decision["in_sample_excluded"] == excluded
    status = render_status(home).splitlines()
    [outside] = [line for line in status if "out-of-sample (days the version never used" in line]
    [inside] = [line for line in status if "in-sample     (days the version was fitted" in line]
    labelled = predictions.join(
        table(home, "gold.labels").select("ID", pl.col("application_date").alias("partition_date")),
        on=["ID", "partition_date"],
    )
    assert f"on {labelled.filter(~pl.col('in_sample')).height:>6} rows" in outside
    assert f"on {labelled.filter(pl.col('in_sample')).height:>6} rows" in inside
    assert any("holdout AUC" in line and f"{tags.holdout_start}..{tags.holdout_end}" in line for line in status)
