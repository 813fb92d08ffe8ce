"""Alert sensors: a failed run and a failed ERROR check each become an alert line, a log line and (when set)
a webhook POST.
"""

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.logic.monitoring.alerts import read_alerts
from medallion.resources.environments import resources_for
from medallion.settings import ALERT_WEBHOOK_URL_VAR, Settings

DAY = date(2025, 3, 8)


@pytest.fixture
def webhook():
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def failed_run(home):
    defs = build_definitions(home)
    with dg.instance_for_test() as instance:
        bad_window = {"ops": {"ml__monitoring": {"config": {"window_days": 0}}}}
        result = defs.resolve_job_def("monitoring_job").execute_in_process(
            partition_key=str(DAY), instance=instance, run_config=bad_window, raise_on_error=False
        )
        assert not result.success
        yield home, defs, instance, result


def evaluate(defs, name, instance, result, event, resources=None):
    """One evaluation of the alert sensor `name`; resources are built from the environment as the test left it."""
    resources = resources if resources is not None else resources_for(Settings.from_env())
    context = dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    )
    sensor = defs.get_repository_def().get_sensor_def(name)
    return sensor(context.for_run_failure() if name == "run_failure_alert_sensor" else context)


def alert_on_failure(failed_run, resources=None):
    _, defs, instance, result = failed_run
    return evaluate(defs, "run_failure_alert_sensor", instance, result, result.get_run_failure_event(), resources)


def test_a_failed_run_is_recorded_logged_and_posted(failed_run, webhook, monkeypatch, caplog):
    home, defs, instance, result = failed_run
    url, received = webhook
    monkeypatch.setenv(ALERT_WEBHOOK_URL_VAR, url)
    with caplog.at_level("ERROR", logger="medallion.alerts"):
        alert_on_failure(failed_run)
    [alert] = read_alerts(home.home / "alerts" / "alerts.jsonl")
    assert (alert["kind"], alert["job"], alert["partition"], alert["run_id"]) == (
        "run_failure",
        "monitoring_job",
        str(DAY),
        result.run_id,
    )
    assert "ml__monitoring" in alert["message"]
    assert any("ALERT run_failure job=monitoring_job" in r.getMessage() for r in caplog.records)
    [(content_type, posted)] = received
    assert content_type == "application/json"
    assert posted == alert


def test_without_a_webhook_nothing_is_posted(failed_run, webhook, monkeypatch):
    home, defs, instance, result = failed_run
    _, received = webhook
    monkeypatch.delenv(ALERT_WEBHOOK_URL_VAR, raising=False)
    alert_on_failure(failed_run)
    assert len(read_alerts(home.home / "alerts" / "alerts.jsonl")) == 1
    assert received == []


def test_an_unreachable_webhook_does_not_lose_the_alert(failed_run, monkeypatch):
    home, defs, instance, result = failed_run
    secret = "http://127.0.0.1:9/unreachable?token=s3cret"
    monkeypatch.setenv(ALERT_WEBHOOK_URL_VAR, secret)
    resources = resources_for(Settings.from_env())
    assert "s3cret" not in repr(resources["alerting"])  # the resource holds the variable's name, not its value
    alert_on_failure(failed_run, resources)
    assert read_alerts(home.home / "alerts" / "alerts.jsonl")[0]["kind"] == "run_failure"


def _run_with_checks(instance, passed: bool, severity: dg.AssetCheckSeverity):
    @dg.asset
    def scored() -> int:
        return 1

    @dg.asset_check(asset=scored, name="scores_in_range")
    def scores_in_range() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=passed, severity=severity, description="2 scores above 1")

    result = dg.materialize([scored, scores_in_range], instance=instance)
    assert result.success
    return result


@pytest.mark.parametrize(
    ("passed", "severity", "alerts"),
    [
        (False, dg.AssetCheckSeverity.ERROR, 1),
        (False, dg.AssetCheckSeverity.WARN, 0),
        (True, dg.AssetCheckSeverity.ERROR, 0),
    ],
)
def test_a_failed_error_check_in_a_successful_run_is_an_alert(home, webhook, monkeypatch, passed, severity, alerts):
    url, received = webhook
    monkeypatch.setenv(ALERT_WEBHOOK_URL_VAR, url)
    defs = build_definitions(home)
    with dg.instance_for_test() as instance:
        result = _run_with_checks(instance, passed, severity)
        outcome = evaluate(defs, "check_failure_alert_sensor", instance, result, result.get_run_success_event())
    recorded = read_alerts(home.home / "alerts" / "alerts.jsonl")
    assert len(recorded) == len(received) == alerts
    if alerts:
        assert recorded[0]["kind"] == "check_failure"
        assert recorded[0]["details"]["failed_checks"] == [
            {"asset": "scored", "check": "scores_in_range", "partition": None, "description": "2 scores above 1"}
        ]
    else:
        assert "no failed ERROR check" in outcome.skip_message
