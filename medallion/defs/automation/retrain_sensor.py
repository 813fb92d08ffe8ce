"""The retrain sensor: acts on the latest ml/retrain_decision, once per decision and at most once per N days."""

import logging
from datetime import date

import dagster as dg
import duckdb

from medallion.components import datasets_in
from medallion.logic.monitoring.retrain_gate import GateCursor, gate_retrain
from medallion.names import MODEL, MONITORING_JOB, RETRAIN_DECISION, TRAINING_JOB, TRIGGER_TAG
from medallion.resources.monitoring_files import MonitoringFiles
from medallion.resources.warehouse import Warehouse
from medallion.settings import current_settings

ml_log = logging.getLogger("medallion.ml")


def _gate_cursor(context: dg.SensorEvaluationContext) -> GateCursor:
    try:
        return GateCursor.from_json(context.cursor)
    except (ValueError, TypeError, AttributeError) as error:
        context.log.warning(f"retrain_sensor: unreadable cursor {context.cursor!r} ({error}); starting afresh")
        return GateCursor()


def _skip(context, reason: str, cursor: GateCursor | None = None) -> dg.SensorResult:
    context.log.info(f"retrain_sensor skipped: {reason}")
    ml_log.info("retrain_sensor skipped: %s", reason)
    return dg.SensorResult(skip_reason=reason, cursor=cursor.to_json() if cursor else None)


def _audit_matches(context, files: MonitoringFiles, day: str, decision: dict) -> None:
    """The JSON file is the human-readable audit copy; the table decides. A bad copy is reported, never fatal."""
    try:
        audit = files.read_decision(day)
    except ValueError as error:
        context.log.warning(
            f"retrain_sensor: audit file unreadable ({error}); the ml.retrain_decision table is the source of truth"
        )
        return
    if audit.get("retrain") != decision["retrain"] or audit.get("status") != decision["status"]:
        context.log.warning(
            f"retrain_sensor: {files.decision_path(day)} disagrees with ml.retrain_decision for {day}; using the table"
        )


def build_retrain_sensor(min_days: int) -> dg.SensorDefinition:
    @dg.sensor(
        name="retrain_sensor",
        job_name=TRAINING_JOB,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Requests {TRAINING_JOB} for the day of the latest ml/retrain_decision when it says retrain: "
        f"once per decision (cursor: storage id) and at most once per {min_days} days (MEDALLION_RETRAIN_MIN_DAYS).",
    )
    def retrain_sensor(
        context: dg.SensorEvaluationContext, warehouse: Warehouse, monitoring_files: MonitoringFiles
    ) -> dg.SensorResult:
        records = context.instance.fetch_materializations(RETRAIN_DECISION, limit=1).records
        if not records:
            return _skip(context, f"ml/retrain_decision has never been materialized: run {MONITORING_JOB} first")
        record, cursor = records[0], _gate_cursor(context)
        day = record.partition_key
        if cursor.storage_id is not None and record.storage_id <= cursor.storage_id:
            return _skip(context, f"decision for {day} (storage id {record.storage_id}) was already acted on", cursor)
        try:
            if not warehouse.table_exists("ml", "retrain_decision"):
                return _skip(
                    context,
                    f"ml/retrain_decision {day} was materialized but ml.retrain_decision is missing from the warehouse",
                    GateCursor(record.storage_id, cursor.last_retrain_day),
                )
            rows = warehouse.query(
                "select * from ml.retrain_decision where partition_date = ? order by decided_at desc limit 1", [day]
            )
        except duckdb.IOException as error:
            # A run holds DuckDB's single writer lock; the cursor stays put so the next tick reads this decision again.
            return _skip(
                context, f"the warehouse is busy ({error}); decision for {day} will be read on the next tick", cursor
            )
        if rows.is_empty():
            return _skip(
                context,
                f"ml.retrain_decision has no row for {day}",
                GateCursor(record.storage_id, cursor.last_retrain_day),
            )
        decision = rows.row(0, named=True)
        _audit_matches(context, monitoring_files, day, decision)
        models = context.instance.fetch_materializations(MODEL, limit=1).records
        last_trained = date.fromisoformat(models[0].partition_key) if models and models[0].partition_key else None
        outcome = gate_retrain(decision, record.storage_id, cursor, last_trained, min_days)
        if not outcome.request:
            return _skip(context, outcome.reason, outcome.cursor)
        context.log.info(f"retrain_sensor requests {TRAINING_JOB} for {day}: {outcome.reason}")
        ml_log.info("retrain_sensor requests %s for %s: %s", TRAINING_JOB, day, outcome.reason)
        request = dg.RunRequest(
            run_key=f"retrain:{day}:{record.storage_id}",
            partition_key=day,
            tags={
                TRIGGER_TAG: "retrain_sensor",
                "medallion/decision_storage_id": str(record.storage_id),
                "medallion/retrain_rules": decision["triggered_rules"] or "none",
            },
        )
        return dg.SensorResult(run_requests=[request], cursor=outcome.cursor.to_json())

    return retrain_sensor


@dg.definitions
def retrain(context: dg.ComponentLoadContext) -> dg.Definitions:
    if not any(dataset.ml for dataset in datasets_in(context)):
        return dg.Definitions()
    return dg.Definitions(sensors=[build_retrain_sensor(current_settings().retrain_min_days)])
