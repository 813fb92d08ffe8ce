"""retrain_sensor with build_sensor_context on real decision materializations: act once per decision, at most once
per N days.
"""

import json
from dataclasses import replace
from datetime import date

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.logic.monitoring.retrain_gate import GateCursor
from medallion.names import MODEL
from medallion.resources.environments import resources_for
from medallion_tests.monitoring.conftest import measurement_rows, run_decision, write_monitoring

D = date(2025, 3, 8)
RETRAIN = dict(live_auc=0.60, predictions=1000, matured=500, prediction_psi=0.05)
HEALTHY = dict(live_auc=0.79, predictions=1000, matured=500, prediction_psi=0.05)


@pytest.fixture
def loop(home, monkeypatch):
    monkeypatch.delenv("MEDALLION_RETRAIN_MIN_DAYS", raising=False)
    defs = build_definitions(home)
    with dg.instance_for_test() as instance:
        yield home, defs, instance


def decide(loop, day: date, numbers: dict) -> None:
    home, defs, instance = loop
    write_monitoring(home, measurement_rows(day, **numbers))
    assert run_decision(defs, day, instance=instance).success


def tick(loop, cursor: str | None = None) -> dg.SensorResult:
    home, defs, instance = loop
    sensor = defs.get_repository_def().get_sensor_def("retrain_sensor")
    return sensor(
        dg.build_sensor_context(
            instance=instance, cursor=cursor, repository_def=defs.get_repository_def(), resources=resources_for(home)
        )
    )


def test_skips_with_a_reason_when_no_decision_was_ever_materialized(loop):
    result = tick(loop)
    assert not result.run_requests
    assert "never been materialized" in result.skip_reason.skip_message


def test_requests_training_for_the_decision_day(loop):
    decide(loop, D, RETRAIN)
    result = tick(loop)
    [request] = result.run_requests
    assert request.partition_key == str(D)
    assert request.tags["medallion/trigger"] == "retrain_sensor"
    assert request.tags["medallion/retrain_rules"] == "auc_floor,auc_drop"
    assert GateCursor.from_json(result.cursor).last_retrain_day == D


def test_acts_once_per_decision(loop):
    decide(loop, D, RETRAIN)
    first = tick(loop)
    again = tick(loop, first.cursor)
    assert not again.run_requests
    assert "already acted on" in again.skip_reason.skip_message


def test_no_retrain_is_skipped_with_the_decision_reason_and_consumed(loop):
    decide(loop, D, HEALTHY)
    result = tick(loop)
    assert not result.run_requests
    assert result.skip_reason.skip_message.startswith(f"decision for {D} is healthy: no rule fired")
    assert GateCursor.from_json(result.cursor).storage_id is not None
    assert "already acted on" in tick(loop, result.cursor).skip_reason.skip_message


def test_inside_the_weekly_limit_the_skip_names_the_next_allowed_day(loop):
    decide(loop, D, RETRAIN)
    last_week = GateCursor(storage_id=0, last_retrain_day=date(2025, 3, 4)).to_json()
    result = tick(loop, last_week)
    assert not result.run_requests
    assert "at most one retrain per 7 days" in result.skip_reason.skip_message
    assert result.skip_reason.skip_message.endswith("next retrain allowed from 2025-03-11")


def test_the_limit_counts_the_last_trained_model_and_is_configurable(loop):
    _, _, instance = loop
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=MODEL, partition="2025-03-06"))
    decide(loop, D, RETRAIN)
    assert tick(loop).skip_reason.skip_message.endswith("next retrain allowed from 2025-03-13")
    home, _, instance = loop
    relaxed = build_definitions(replace(home, retrain_min_days=2))
    assert [r.partition_key for r in tick((home, relaxed, instance)).run_requests] == [str(D)]


@pytest.mark.parametrize("audit", ["{not json", json.dumps({"retrain": False, "status": "healthy"}), "[]"])
def test_a_corrupt_or_edited_decision_file_does_not_matter(loop, audit):
    home, _, _ = loop
    decide(loop, D, RETRAIN)
    (home.decisions_dir / f"{D}.json").write_text(audit)
    assert [r.partition_key for r in tick(loop).run_requests] == [str(D)]


def test_a_missing_decision_file_does_not_matter(loop):
    home, _, _ = loop
    decide(loop, D, RETRAIN)
    (home.decisions_dir / f"{D}.json").unlink()
    assert len(tick(loop).run_requests) == 1
