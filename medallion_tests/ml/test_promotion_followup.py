"""Issue 22, finding 5 (b): each promotion is re-checked on the labelled rows that came after it, by the check
`promotions_held` of ml/monitoring, on a real registry, warehouse and Dagster run.

A version trained on day 12 of the world (its holdout: days 8-9) is promoted over a champion that learned nothing
(shuffled labels); days 10-20 come later and their labels mature by the world's last day. Monitoring on the training
day finds no later labelled row (too few: passes, saying so); monitoring on the last day finds the promotion held and
a promotion recorded the other way round (the poor version over the good one) reversed: a warning, never blocking.
"""

from datetime import timedelta

import dagster as dg
import duckdb

from medallion.logic.ml.model_tags import ModelTags
from medallion_tests.conftest import table
from medallion_tests.ml.conftest import AS_OF, DAY1, DELAY, LAST_APP_DAY, ROWS_PER_DAY, mlflow_of, train
from medallion_tests.ml.test_promotion import register_poor_champion

TRAINED_ON = DAY1 + timedelta(days=11)  # labels known for application days 1-9


def check_result(result) -> dg.AssetCheckEvaluation:
    found = [e for e in result.get_asset_check_evaluations() if e.check_name == "promotions_held"]
    assert len(found) == 1 and found[0].asset_key == dg.AssetKey(["ml", "monitoring"])
    return found[0]


def monitor(defs, instance, day):
    return defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=day.isoformat(), raise_on_error=False
    )


def test_a_promotion_is_followed_up_on_the_rows_that_came_after_it(fresh_world):
    home, defs, instance = fresh_world
    poor = register_poor_champion(home)
    assert train(defs, instance, TRAINED_ON).success
    evaluation = table(home, "ml.model_evaluation", f"where partition_date = '{TRAINED_ON}'").row(0, named=True)
    assert evaluation["decision"] == "significantly_better" and evaluation["champion_version"] == poor
    promoted = evaluation["new_version"]
    # The promotion's own numbers: the gain, and the gain adjusted for having been selected by the test.
    assert evaluation["selection_adjusted_auc_low"] < evaluation["selection_adjusted_auc_difference"]
    assert evaluation["selection_adjusted_auc_difference"] <= evaluation["roc_auc_difference"]
    assert "selection-adjusted +" in evaluation["reason"]
    assert evaluation["selection_adjustment"].startswith("conditional median-unbiased, given DeLong z > 1.960")
    version = mlflow_of(home).client().get_model_version("credit_default", promoted)
    assert (
        float(version.tags["promotion_selection_adjusted_auc_difference"])
        == (evaluation["selection_adjusted_auc_difference"])
    )
    holdout_end = ModelTags.from_mlflow(version.tags).holdout_end
    assert holdout_end == TRAINED_ON - timedelta(days=DELAY)

    early = monitor(defs, instance, TRAINED_ON)
    assert early.success
    too_early = check_result(early)
    assert too_early.passed and too_early.metadata["too_few_rows"].value == 1
    assert "too few rows: 0 labelled later rows" in too_early.description
    assert too_early.partition == TRAINED_ON.isoformat()

    # The same promotion recorded the other way round, as a wrong decision would have: the poor version over this one.
    with duckdb.connect(str(home.warehouse_path)) as connection:
        connection.execute(
            "insert into ml.model_evaluation select * replace (champion_version as new_version, new_version as "
            "champion_version, partition_date + 1 as partition_date, -roc_auc_difference as roc_auc_difference, "
            "-roc_auc_ci_high as roc_auc_ci_low, -roc_auc_ci_low as roc_auc_ci_high, "
            "null::double as selection_adjusted_auc_difference) from ml.model_evaluation where partition_date = ?",
            [TRAINED_ON],
        )
    late = monitor(defs, instance, AS_OF)
    assert late.success  # a reversal warns; it blocks nothing
    judged = check_result(late)
    later_days = (LAST_APP_DAY - holdout_end).days
    metadata = {key: value.value for key, value in judged.metadata.items()}
    assert not judged.passed and judged.severity == dg.AssetCheckSeverity.WARN
    assert (metadata["promotions_followed"], metadata["held"], metadata["reversed"]) == (2, 1, 1)
    rows = {record.data["version"]: record.data for record in metadata["promotions"].records}
    held, reversed_ = rows[promoted], rows[poor]
    assert held["verdict"] == "held" and held["rows"] == later_days * ROWS_PER_DAY
    assert held["days"] == f"{holdout_end + timedelta(days=1)}..{AS_OF}"
    assert 0 < held["realised_low"] < held["realised"] < held["realised_high"]
    assert (held["claimed"], held["adjusted"]) == (
        round(evaluation["roc_auc_difference"], 5),
        round(evaluation["selection_adjusted_auc_difference"], 5),
    )
    assert reversed_["verdict"] == "reversed" and reversed_["realised"] == -held["realised"]
    assert reversed_["adjusted"] is None and reversed_["rows"] == held["rows"]
    assert judged.description.startswith("1 of 2 promotions reversed on later rows:")
    assert f"- v{poor} over v{promoted} (significantly_better, evaluated {TRAINED_ON + timedelta(days=1)})" in (
        judged.description
    )
    assert metadata["latest_version"] == poor and metadata["latest_verdict"] == "reversed"
