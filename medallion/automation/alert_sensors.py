"""Alerts: failed runs and failed ERROR checks are recorded (alerts log + log line) and optionally posted to a webhook."""

import logging
import os

import dagster as dg

from medallion.logic.monitoring.alerts import WEBHOOK_ENV, Alert, append_alert, failed_check_summary, post_webhook
from medallion.resources.monitoring_files import MonitoringFiles

alert_log = logging.getLogger("medallion.alerts")


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return failed_check_summary([r.event_log_entry.dagster_event.event_specific_data for r in records])


def deliver_alert(context, files: MonitoringFiles, alert: Alert) -> None:
    """Record the alert, log it, and POST it when MEDALLION_ALERT_WEBHOOK_URL is set; delivery problems are logged, not raised."""
    append_alert(files.alerts_path, alert)
    line = f"ALERT {alert.kind} job={alert.job} run={alert.run_id} partition={alert.partition}: {alert.message}"
    alert_log.error(line)
    context.log.error(line)
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        try:
            status = post_webhook(url, alert)
            context.log.info(f"alert posted to the webhook: HTTP {status}")
        except OSError as error:
            context.log.warning(f"alert webhook {url} unreachable: {error}")


def _partition_of(run) -> str | None:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start else None


def build_alert_sensors() -> list[dg.SensorDefinition]:
    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Every failed run of this code location becomes an alert (alerts/alerts.jsonl, a log line, the optional webhook).",
    )
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext, monitoring_files: MonitoringFiles) -> None:
        run = context.dagster_run
        checks = _failed_checks(context.instance, run.run_id)
        message = context.failure_event.message or "run failed"
        details = {"failed_checks": checks}
        deliver_alert(
            context,
            monitoring_files,
            Alert("run_failure", message, run.job_name, run.run_id, _partition_of(run), details=details),
        )

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="check_failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A successful run whose ERROR-severity asset checks failed (non-blocking ones) becomes an alert.",
    )
    def check_failure_alert_sensor(context: dg.RunStatusSensorContext, monitoring_files: MonitoringFiles):
        run = context.dagster_run
        checks = _failed_checks(context.instance, run.run_id)
        if not checks:
            return dg.SkipReason(f"run {run.run_id} of {run.job_name}: no failed ERROR check")
        names = ", ".join(f"{c['asset']}:{c['check']}" for c in checks)
        alert = Alert(
            "check_failure",
            f"{len(checks)} ERROR check(s) failed: {names}",
            run.job_name,
            run.run_id,
            _partition_of(run),
            details={"failed_checks": checks},
        )
        deliver_alert(context, monitoring_files, alert)
        return None

    return [run_failure_alert_sensor, check_failure_alert_sensor]
