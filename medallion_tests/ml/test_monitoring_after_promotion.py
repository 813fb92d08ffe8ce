"""After a promotion the champion has no matured labels for a label delay: the decision judges the version that
served the predictions whose labels matured, names it, and reports the deployed system as a whole (issue 22, 1)."""

from datetime import timedelta

from medallion.logic.etl.features import FEATURE_NAMES
from medallion.logic.ml.training import build_pipeline, feature_matrix
from medallion_tests.conftest import table
from medallion_tests.ml.conftest import AS_OF, DAY1, LAST_APP_DAY, predict
from medallion_tests.ml.test_promotion import LABEL, register_champion, training_rows


def test_a_promotion_does_not_blind_the_decision(fresh_world):
    home, defs, instance = fresh_world
    rows = training_rows(home)
    pipeline = build_pipeline("logistic_regression", FEATURE_NAMES, 0).fit(
        feature_matrix(rows, FEATURE_NAMES), rows[LABEL].to_numpy()
    )
    first = register_champion(home, pipeline)
    assert predict(defs, instance, DAY1, LAST_APP_DAY).success  # every day served by the first version
    promoted = register_champion(home, pipeline)  # a newer version takes the champion alias
    assert (first, promoted) == ("1", "2")

    result = defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=AS_OF.isoformat(), raise_on_error=False
    )

    assert result.success
    decision = table(home, "ml.retrain_decision").row(0, named=True)
    labels = table(home, "gold.labels", f"where label_date between '{AS_OF - timedelta(days=6)}' and '{AS_OF}'")
    assert (decision["model_version"], decision["performance_version"]) == ("2", "1")
    assert decision["matured_labels"] == labels.height > 200
    assert decision["status"] == "healthy" and decision["performance_score"] > 0.7
    assert (
        f"{labels.height} out-of-sample matured labels of v1, which served them (champion v2 has 0 yet)"
        in (decision["reason"])
    )
    measured = table(home, "ml.monitoring", "where kind = 'performance' and subject = 'roc_auc'")
    assert dict(measured.select("model_version", "n").iter_rows()) == {"1": labels.height, "deployed": labels.height}
