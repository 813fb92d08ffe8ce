"""Alerts: failed runs and failed ERROR checks are recorded (alerts log + log line) and optionally
posted to a webhook.
"""

import logging

import dagster as dg

from medallion.logic.monitoring.alerts import Alert, failed_check_summary
from medallion.resources.alerting import Alerting

alert_log = logging.getLogger("medallion.alerts")


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return failed_check_summary([r.event_log_entry.dagster_event.event_specific_data for r in records])


def _raise(context, alerting: Alerting, alert: Alert) -> None:
    line = f"ALERT {alert.kind} job={alert.job} run={alert.run_id} partition={alert.partition}: {alert.message}"
    alert_log.error(line)
    context.log.error(line)
    alerting.deliver(alert, context.log)


def _partition_of(run) -> str | None:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start else None


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed run of this code location becomes an alert (alerts/alerts.jsonl, a log line, the "
    "optional webhook).",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, alerting: Alerting) -> None:
    run = context.dagster_run
    details = {"failed_checks": _failed_checks(context.instance, run.run_id)}
    message = context.failure_event.message or "run failed"
    _raise(
        context, alerting, Alert("run_failure", message, run.job_name, run.run_id, _partition_of(run), details=details)
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="check_failure_alert_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A successful run whose ERROR-severity asset checks failed (non-blocking ones) becomes an alert.",
)
def check_failure_alert_sensor(context: dg.RunStatusSensorContext, alerting: Alerting):
    run = context.dagster_run
    checks = _failed_checks(context.instance, run.run_id)
    if not checks:
        return dg.SkipReason(f"run {run.run_id} of {run.job_name}: no failed ERROR check")
    names = ", ".join(f"{c['asset']}:{c['check']}" for c in checks)
    message = f"{len(checks)} ERROR check(s) failed: {names}"
    _raise(
        context,
        alerting,
        Alert(
            "check_failure", message, run.job_name, run.run_id, _partition_of(run), details={"failed_checks": checks}
        ),
    )
    return None
