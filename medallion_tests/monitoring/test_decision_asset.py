"""Each retrain rule through the real ml/retrain_decision asset: the history table and the JSON audit file agree."""

import json
from datetime import date, timedelta

import pytest

from medallion.checks.monitoring import RULE_CHECKS
from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import checks_by_name
from medallion_tests.monitoring.conftest import decision_row, measurement_rows, run_decision, write_monitoring

DAY = date(2025, 3, 1)
ENOUGH = dict(predictions=1000, matured=500)
CASES = {
    "healthy": (dict(live_auc=0.79, prediction_psi=0.05, feature_psi={"a": 0.30, "b": 0.01}, **ENOUGH), "healthy", ""),
    "auc_floor": (dict(holdout_auc=0.68, live_auc=0.65, prediction_psi=0.05, **ENOUGH), "retrain", "auc_floor"),
    "auc_drop": (dict(live_auc=0.72, prediction_psi=0.05, **ENOUGH), "retrain", "auc_drop"),
    "prediction_drift": (dict(live_auc=0.79, prediction_psi=0.40, **ENOUGH), "retrain", "prediction_drift"),
    "feature_drift": (
        dict(live_auc=0.79, feature_psi={"a": 0.5, "b": 0.4, "c": 0.3, "d": 0.1}, **ENOUGH),
        "retrain",
        "feature_drift",
    ),
    "no_predictions": (dict(live_auc=0.79, matured=500, predictions=0), "insufficient_data", ""),
    "no_matured_labels": (
        dict(predictions=1000, prediction_psi=0.05, feature_psi={"a": 0.01}),
        "insufficient_data",
        "",
    ),
    "no_champion": (dict(champion=None, holdout_auc=None), "insufficient_data", ""),
}


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    home = Settings(home=tmp_path_factory.mktemp("home"), env="local")
    defs = build_definitions(home)
    days, checks = {}, {}
    for offset, (name, (numbers, _, _)) in enumerate(CASES.items()):
        day = DAY + timedelta(days=offset)
        write_monitoring(home, measurement_rows(day, **numbers))
        result = run_decision(defs, day)
        assert result.success
        days[name], checks[name] = day, checks_by_name(result)
    return home, defs, days, checks


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_decides_through_the_asset(decided, case):
    home, _, days, _ = decided
    _, status, rules = CASES[case]
    row = decision_row(home, days[case])
    assert (row["status"], row["retrain"], row["triggered_rules"]) == (status, status == "retrain", rules)
    assert row["decision_date"] == days[case]
    audit = json.loads((home.decisions_dir / f"{days[case]}.json").read_text())
    assert (audit["status"], audit["retrain"], audit["reason"]) == (row["status"], row["retrain"], row["reason"])
    assert audit["rules"]["auc_floor"] == 0.70


def test_insufficient_data_says_why(decided):
    home, _, days, _ = decided
    assert "only 0 predictions" in decision_row(home, days["no_predictions"])["reason"]
    assert "0 out-of-sample matured labels" in decision_row(home, days["no_matured_labels"])["reason"]


def test_rules_are_configurable(decided):
    home, defs, _, _ = decided
    day = DAY - timedelta(days=1)
    write_monitoring(home, measurement_rows(day, **CASES["healthy"][0]))
    assert run_decision(defs, day, rules={"auc_floor": 0.85}).success
    row = decision_row(home, day)
    assert (row["status"], row["triggered_rules"]) == ("retrain", "auc_floor")
    assert json.loads(row["rules"])["auc_floor"] == 0.85
    assert json.loads((home.decisions_dir / f"{day}.json").read_text())["status"] == "retrain"


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_is_a_check_that_fails_on_the_day_it_fires(decided, case):
    _, _, days, checks = decided
    _, _, fired = CASES[case]
    for rule, (name, severity, _) in RULE_CHECKS.items():
        assert ("ml/retrain_decision", name) in checks[case], sorted(checks[case])
        found = checks[case][("ml/retrain_decision", name)]
        assert found.partition == str(days[case])
        assert found.passed == (rule != fired), (case, name)
        if rule == fired:
            assert found.severity == severity and found.description
