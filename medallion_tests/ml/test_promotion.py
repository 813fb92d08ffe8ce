"""The promotion rule in each branch, on real MLflow registry entries and aliases."""

from datetime import date

import numpy as np
import polars as pl

from medallion.logic.etl.features import FEATURE_NAMES, FEATURE_SET_VERSION
from medallion.logic.ml.model_logging import log_served_model
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.training import build_pipeline, feature_matrix
from medallion.logic.ml.training_set import build_training_set
from medallion_tests.conftest import table
from medallion_tests.ml.conftest import AS_OF, mlflow_of, train

LABEL = "default_payment_next_month"


def evaluation(home) -> dict:
    return table(home, "ml.model_evaluation", f"where partition_date = '{AS_OF}'").row(0, named=True)


def aliases(home) -> dict[str, str]:
    model = mlflow_of(home).client().get_registered_model("credit_default")
    return {alias: str(version) for alias, version in model.aliases.items()}


def register_champion(
    home, pipeline, feature_names=FEATURE_NAMES, feature_set_version=FEATURE_SET_VERSION, threshold=0.5
) -> str:
    """Register `pipeline` as the champion, trained on days before the world's (so it used none of them)."""
    tracking = mlflow_of(home)
    rows = training_rows(home)
    with tracking.start_run("tests", "champion", tags={}):
        version = log_served_model(pipeline, rows, feature_names, threshold, "credit_default")
    return register_tags(home, version, feature_set_version, threshold)


def register_tags(home, version: str, feature_set_version: str = FEATURE_SET_VERSION, threshold: float = 0.5) -> str:
    """Tag `version` as trained on December (before every day of the world) and give it the champion alias."""
    tracking = mlflow_of(home)
    december = date(2024, 12, 1), date(2024, 12, 31)
    tags = ModelTags(
        feature_set_version=feature_set_version,
        candidate="logistic_regression",
        threshold=threshold,
        selection_auc=0.5,
        holdout_auc=0.5,
        holdout_auc_se=0.01,
        holdout_rows=1000,
        as_of=AS_OF,
        window_start=december[0],
        window_end=december[1],
        train_start=december[0],
        train_end=december[1],
        valid_start=december[0],
        valid_end=december[1],
        holdout_start=december[0],
        holdout_end=december[1],
    ).to_mlflow()
    for key, value in tags.items():
        tracking.client().set_model_version_tag("credit_default", version, key, value)
    tracking.set_alias("champion", version)
    return version


def training_rows(home) -> pl.DataFrame:
    return build_training_set(table(home, "gold.features"), table(home, "gold.labels"), AS_OF, "ID", LABEL)


def register_poor_champion(home) -> str:
    """A logistic regression fitted on shuffled labels: a champion any real model must beat."""
    rows = training_rows(home)
    labels = np.random.default_rng(0).permutation(rows[LABEL].to_numpy())
    pipeline = build_pipeline("logistic_regression", FEATURE_NAMES, 0).fit(feature_matrix(rows, FEATURE_NAMES), labels)
    return register_champion(home, pipeline)


def test_first_version_becomes_champion_when_there_is_none(fresh_world):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["decision"] == "no_champion" and decision["promoted"]
    assert aliases(home) == {"champion": decision["new_version"]}


def test_the_comparison_uses_only_days_neither_model_used(fresh_world):
    """Finding 2: the same training day twice leaves no day the champion did not use, so nothing is compared (the
    old code compared on the new version's validation days, where it was also chosen and tuned)."""
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    champion = aliases(home)["champion"]
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["decision"] == "insufficient_evaluation_data" and not decision["promoted"]
    assert decision["evaluation_rows"] == 0 and decision["roc_auc_new"] is None
    assert aliases(home) == {"champion": champion, "challenger": decision["new_version"]}


def test_a_version_that_is_not_better_stays_challenger(fresh_world):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    champion = aliases(home)["champion"]
    # The champion now says it used only December, so the next version's holdout days are new to both.
    december = {"train_start": "2024-12-01", "holdout_end": "2024-12-31"}
    for tag, value in december.items():
        mlflow_of(home).client().set_model_version_tag("credit_default", champion, tag, value)
    assert train(defs, instance).success  # same data, same seed: the same model again
    decision = evaluation(home)
    assert decision["decision"] == "not_better" and not decision["promoted"]
    assert decision["champion_version"] == champion
    assert decision["roc_auc_difference"] == 0.0 and decision["auc_p_value"] == 1.0
    tags = ModelTags.from_mlflow(mlflow_of(home).version_by_alias("challenger").tags)
    assert decision["evaluation_window"] == f"{tags.holdout_start}..{tags.holdout_end}"
    assert (
        decision["evaluation_rows"]
        == training_rows(home)
        .filter(pl.col("application_date").is_between(tags.holdout_start, tags.holdout_end))
        .height
    )
    assert decision["measured_on"].endswith("seen by neither model")
    assert aliases(home) == {"champion": champion, "challenger": decision["new_version"]}


def test_a_significantly_better_version_takes_the_champion_alias(fresh_world):
    home, defs, instance = fresh_world
    poor = register_poor_champion(home)
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["decision"] == "significantly_better" and decision["promoted"]
    assert decision["champion_version"] == poor
    assert decision["roc_auc_ci_low"] > 0 and decision["auc_p_value"] < 0.05
    assert decision["evaluation_rows"] >= 100
    assert aliases(home)["champion"] == decision["new_version"]
    comparison = pl.DataFrame([decision]).select(pl.col("^.*_ci_(low|high)$"))
    assert comparison.null_count().sum_horizontal()[0] == 0


def test_a_changed_feature_set_is_still_compared_on_the_rows_both_can_score(fresh_world):
    """Finding 7: a champion of another feature set whose columns today's rows still hold is compared, not replaced
    unseen (the old code promoted with 0 evaluation rows)."""
    home, defs, instance = fresh_world
    rows = training_rows(home)
    old_columns = FEATURE_NAMES[:10]
    pipeline = build_pipeline("logistic_regression", old_columns, 0).fit(
        feature_matrix(rows, old_columns), rows[LABEL].to_numpy()
    )
    old = register_champion(home, pipeline, old_columns, "credit-v0")
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["champion_version"] == old and decision["evaluation_rows"] >= 100
    assert decision["decision"] in (
        "significantly_better",
        "feature_set_changed_not_worse",
        "feature_set_changed_worse",
    )
    assert "credit-v0" in decision["reason"] and "its own 10 columns" in decision["reason"]
    assert decision["roc_auc_champion"] is not None and decision["brier_difference"] is not None
    version = mlflow_of(home).client().get_model_version("credit_default", decision["new_version"])
    assert version.tags["promotion"] == decision["decision"] and version.tags["promotion_reason"] == decision["reason"]


def test_a_champion_that_cannot_score_the_rows_is_replaced_saying_why(fresh_world):
    home, defs, instance = fresh_world
    rows = training_rows(home).with_columns((pl.col("limit_bal") / 1000).alias("limit_thousands"))
    old_columns = ["limit_thousands", "age"]
    pipeline = build_pipeline("logistic_regression", old_columns, 0).fit(
        feature_matrix(rows, old_columns), rows[LABEL].to_numpy()
    )
    with mlflow_of(home).start_run("tests", "old champion", tags={}):
        version = log_served_model(pipeline, rows, old_columns, 0.5, "credit_default")
    register_tags(home, version, "credit-v0")
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["decision"] == "feature_set_changed_not_comparable" and decision["promoted"]
    assert decision["evaluation_rows"] == 0 and "limit_thousands" in decision["reason"]
    stored = mlflow_of(home).client().get_model_version("credit_default", decision["new_version"])
    assert "lack 1 of its columns (limit_thousands)" in stored.tags["promotion_reason"]
