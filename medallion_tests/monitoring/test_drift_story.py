"""The drift story end to end, in process, on small data: PSI rises after the shift, the decision flips to retrain,
the sensor requests training_job, and a new version is registered and evaluated."""

import duckdb
import pytest

from medallion.tools.demo_drift import run_story

FAST = {
    "ops": {
        "ml__model": {"config": {"candidates": ["logistic_regression"]}},
        "ml__model_evaluation": {"config": {"n_resamples": 200}},
    }
}


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        home = tmp_path_factory.mktemp("drift") / "home"
        # run_story points these at its home; the patch restores them for the other tests.
        for name, value in {
            "MEDALLION_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }.items():
            patch.setenv(name, value)
        patch.delenv("MEDALLION_RETRAIN_MIN_DAYS", raising=False)
        lines: list[str] = []
        # 2025-01-18 is a Saturday: train there, monitor the next three Saturdays; the drift starts on 2025-02-02.
        result = run_story(
            home,
            days=39,
            rows_per_day=150,
            drift_day=32,
            label_delay_days=7,
            first_training_day=17,
            run_config=FAST,
            echo=lines.append,
        )
        yield home, result, lines


def test_psi_rises_after_the_shift(story):
    _, result, _ = story
    before = [w.top_feature[1] for w in result.weeks if str(w.day) < "2025-02-02"]
    after = [w.top_feature[1] for w in result.weeks if str(w.day) >= "2025-02-02"]
    assert len(before) == 2 and len(after) == 1
    assert max(before) < 0.1 < 0.25 < min(after)


def test_the_decision_flips_to_retrain_with_its_reason(story):
    home, result, _ = story
    assert [(str(w.day), w.retrain) for w in result.weeks] == [
        ("2025-01-25", False),
        ("2025-02-01", False),
        ("2025-02-08", True),
    ]
    assert "feature groups with PSI > 0.25 and no-drift p < 0.00048 (>= 3)" in result.weeks[-1].reason
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute(
            "select partition_date::varchar, status, triggered_rules from ml.retrain_decision order by 1"
        ).fetchall()
    assert rows[-1][:2] == ("2025-02-08", "retrain") and "feature_drift" in rows[-1][2].split(",")
    assert all(status != "retrain" for _, status, _ in rows[:-1])


def test_the_sensor_launches_training_and_a_new_version_is_evaluated(story):
    home, result, lines = story
    assert result.weeks[-1].requested and "  retrain_sensor: requests training_job for 2025-02-08" in lines
    assert result.versions == ["1", "2"] and result.weeks[-1].new_version == "2"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        evaluation = connection.execute(
            "select new_version, champion_version, decision from ml.model_evaluation "
            "where partition_date = '2025-02-08'"
        ).fetchone()
    assert evaluation[:2] == ("2", "1")
    assert any(line.startswith("  champion ") for line in lines)
    assert (home / "decisions" / "2025-02-08.json").exists()
