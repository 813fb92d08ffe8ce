"""The promotion rule in each branch, on real MLflow registry entries and aliases."""

from datetime import date

import numpy as np
import polars as pl

from medallion.logic.etl.features import FEATURE_NAMES, FEATURE_SET_VERSION
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


def register_poor_champion(home) -> str:
    """A logistic regression fitted on shuffled labels: a champion any real model must beat."""
    import mlflow
    import sklearn
    from skops import io as skops_io

    tracking = mlflow_of(home)
    rows = build_training_set(table(home, "gold.features"), table(home, "gold.labels"), AS_OF, "ID", LABEL)
    labels = np.random.default_rng(0).permutation(rows[LABEL].to_numpy())
    pipeline = build_pipeline("logistic_regression", FEATURE_NAMES, 0).fit(feature_matrix(rows, FEATURE_NAMES), labels)
    with tracking.start_run("tests", "poor champion", tags={}):
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            registered_model_name="credit_default",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
            skops_trusted_types=skops_io.get_untrusted_types(data=skops_io.dumps(pipeline)),
        )
    version = str(info.registered_model_version)
    tags = ModelTags(
        feature_set_version=FEATURE_SET_VERSION,
        candidate="logistic_regression",
        threshold=0.5,
        validation_auc=0.5,
        as_of=AS_OF,
        window_start=date(2024, 12, 1),
        window_end=date(2024, 12, 31),
        train_start=date(2024, 12, 1),
        train_end=date(2024, 12, 31),
        valid_start=date(2024, 12, 1),
        valid_end=date(2024, 12, 31),
    ).to_mlflow()
    for key, value in tags.items():
        tracking.client().set_model_version_tag("credit_default", version, key, value)
    tracking.set_alias("champion", version)
    return version


def test_first_version_becomes_champion_when_there_is_none(fresh_world):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    decision = evaluation(home)
    assert decision["decision"] == "no_champion" and decision["promoted"]
    assert aliases(home) == {"champion": decision["new_version"]}


def test_a_version_that_is_not_better_stays_challenger(fresh_world):
    home, defs, instance = fresh_world
    assert train(defs, instance).success
    champion = aliases(home)["champion"]
    assert train(defs, instance).success  # same data, same seed: the same model again
    decision = evaluation(home)
    assert decision["decision"] == "not_better" and not decision["promoted"]
    assert decision["champion_version"] == champion
    assert decision["roc_auc_difference"] == 0.0 and decision["auc_p_value"] == 1.0
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
