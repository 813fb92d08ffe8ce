"""The retrain sensors, one per dataset declaring `ml`: each acts on its dataset's latest retrain decision, once per
decision and at most once per N days."""

import logging
from datetime import date

import dagster as dg
import duckdb

from medallion.components import datasets_in
from medallion.logic.monitoring.retrain_gate import GateCursor, gate_retrain
from medallion.names import RETRAIN_SENSOR, TRIGGER_TAG, MlNames
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


def _audit_matches(context, files: MonitoringFiles, day: str, decision: dict, table: str) -> None:
    """The JSON file is the human-readable audit copy; the table decides. A bad copy is reported, never fatal."""
    try:
        audit = files.read_decision(day)
    except ValueError as error:
        context.log.warning(
            f"retrain_sensor: audit file unreadable ({error}); the {table} table is the source of truth"
        )
        return
    if audit.get("retrain") != decision["retrain"] or audit.get("status") != decision["status"]:
        context.log.warning(
            f"retrain_sensor: {files.decision_path(day)} disagrees with {table} for {day}; using the table"
        )


def build_retrain_sensor(min_days: int, names: MlNames) -> dg.SensorDefinition:
    decision_key, training_job, table = names.retrain_decision, names.training_job, names.sql("retrain_decision")
    shown = decision_key.to_user_string()

    @dg.sensor(
        name=names.named(RETRAIN_SENSOR),
        job_name=training_job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Requests {training_job} for the day of the latest {shown} when it says retrain: "
        f"once per decision (cursor: storage id) and at most once per {min_days} days (MEDALLION_RETRAIN_MIN_DAYS).",
    )
    def retrain_sensor(
        context: dg.SensorEvaluationContext, warehouse: Warehouse, monitoring_files: MonitoringFiles
    ) -> dg.SensorResult:
        monitoring_files = monitoring_files.for_dataset(names.files_folder)
        records = context.instance.fetch_materializations(decision_key, limit=1).records
        if not records:
            return _skip(context, f"{shown} has never been materialized: run {names.monitoring_job} first")
        record, cursor = records[0], _gate_cursor(context)
        day = record.partition_key
        if cursor.storage_id is not None and record.storage_id <= cursor.storage_id:
            return _skip(context, f"decision for {day} (storage id {record.storage_id}) was already acted on", cursor)
        try:
            if not warehouse.table_exists(names.schema, "retrain_decision"):
                return _skip(
                    context,
                    f"{shown} {day} was materialized but {table} is missing from the warehouse",
                    GateCursor(record.storage_id, cursor.last_retrain_day),
                )
            rows = warehouse.query(
                f"select * from {table} where partition_date = ? order by decided_at desc limit 1", [day]
            )
        except duckdb.IOException as error:
            # A run holds DuckDB's single writer lock; the cursor stays put so the next tick reads this decision again.
            return _skip(
                context, f"the warehouse is busy ({error}); decision for {day} will be read on the next tick", cursor
            )
        if rows.is_empty():
            return _skip(
                context,
                f"{table} has no row for {day}",
                GateCursor(record.storage_id, cursor.last_retrain_day),
            )
        decision = rows.row(0, named=True)
        _audit_matches(context, monitoring_files, day, decision, table)
        models = context.instance.fetch_materializations(names.model, limit=1).records
        last_trained = date.fromisoformat(models[0].partition_key) if models and models[0].partition_key else None
        outcome = gate_retrain(decision, record.storage_id, cursor, last_trained, min_days)
        if not outcome.request:
            return _skip(context, outcome.reason, outcome.cursor)
        context.log.info(f"retrain_sensor requests {training_job} for {day}: {outcome.reason}")
        ml_log.info("retrain_sensor requests %s for %s: %s", training_job, day, outcome.reason)
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
    min_days = current_settings().retrain_min_days
    return dg.Definitions(
        sensors=[
            build_retrain_sensor(min_days, dataset.ml_settings.names)
            for dataset in datasets_in(context)
            if dataset.ml_settings is not None
        ]
    )
