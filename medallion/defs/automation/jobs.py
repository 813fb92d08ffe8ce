"""Jobs, named by what they run, and the schedules that run them. ML jobs exist when a dataset has `ml: true`."""

from datetime import timedelta

import dagster as dg

from medallion.components import datasets_in
from medallion.names import (
    ETL_JOB,
    ETL_LAYERS,
    FRESHNESS_CHECK,
    FRESHNESS_CHECK_JOB,
    INFERENCE_JOB,
    MONITORING_ASSETS,
    MONITORING_JOB,
    PREDICTIONS,
    SERVING_ASSETS,
    STAGE_TAG,
    TRAINING_ASSETS,
    TRAINING_JOB,
)


def etl_jobs(gold_keys: list[dg.AssetKey]) -> list[dg.JobDefinition]:
    # The freshness checks judge the latest partition against the clock, not the run's days: they have their own job.
    freshness = dg.AssetSelection.checks(*[dg.AssetCheckKey(key, FRESHNESS_CHECK) for key in gold_keys])
    etl = dg.define_asset_job(
        ETL_JOB,
        selection=dg.AssetSelection.groups(*ETL_LAYERS) - freshness,
        description="Landing → bronze → silver (+ quarantine) → gold features and labels, with their quality checks.",
        tags={STAGE_TAG: "etl"},
    )
    freshness_job = dg.define_asset_job(
        FRESHNESS_CHECK_JOB,
        selection=freshness,
        description="Checks that yesterday's gold partitions exist by their deadline.",
    )
    return [etl, freshness_job]


def ml_jobs() -> list[dg.JobDefinition]:
    return [
        dg.define_asset_job(
            TRAINING_JOB,
            selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
            description="Point-in-time training set → candidate models in MLflow → champion/challenger evaluation "
            "and aliases.",
            tags={STAGE_TAG: "training"},
        ),
        dg.define_asset_job(
            INFERENCE_JOB,
            selection=dg.AssetSelection.assets(PREDICTIONS, *SERVING_ASSETS),
            description="Scores the day's gold features with the champion and loads the predictions and the day's "
            "summary into the serving targets.",
            tags={STAGE_TAG: "inference"},
        ),
        dg.define_asset_job(
            MONITORING_JOB,
            selection=dg.AssetSelection.assets(*MONITORING_ASSETS),
            description="Drift, late-label performance and data quality over the trailing window "
            "→ the retrain decision.",
            tags={STAGE_TAG: "monitoring"},
        ),
    ]


def previous_day_schedule(name: str, job: dg.JobDefinition, hour: int, description: str) -> dg.ScheduleDefinition:
    """Daily at `hour` UTC, for the day before."""
    return dg.build_schedule_from_partitioned_job(
        job, name=name, hour_of_day=hour, minute_of_hour=0, description=description
    )


def weekly_latest_day_schedule(
    name: str, job: dg.JobDefinition, hour: int, run_key_prefix: str, description: str
) -> dg.ScheduleDefinition:
    """Sundays at `hour` UTC, for the latest complete partition (the day before)."""

    @dg.schedule(name=name, job=job, cron_schedule=f"0 {hour} * * 0", execution_timezone="UTC", description=description)
    def weekly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        latest_day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
        return dg.RunRequest(run_key=f"{run_key_prefix}-{latest_day}", partition_key=latest_day)

    return weekly


def etl_schedules(etl: dg.JobDefinition, freshness_job: dg.JobDefinition) -> list[dg.ScheduleDefinition]:
    return [
        previous_day_schedule("etl_daily_schedule", etl, 1, "01:00 UTC: the ETL for the previous day's partition."),
        dg.ScheduleDefinition(
            name="freshness_check_schedule",
            job=freshness_job,
            cron_schedule="0 4 * * *",
            execution_timezone="UTC",
            description="04:00 UTC: yesterday's gold partitions must exist by 03:00 UTC.",
        ),
    ]


def ml_schedules(training: dg.JobDefinition, inference: dg.JobDefinition, monitoring: dg.JobDefinition):
    return [
        weekly_latest_day_schedule(
            "training_weekly_schedule",
            training,
            5,
            "training",
            "Sundays 05:00 UTC: train, evaluate and promote for the latest complete day (the day before).",
        ),
        previous_day_schedule(
            "inference_daily_schedule",
            inference,
            2,
            "02:00 UTC, after the ETL: predictions for the previous day with the champion.",
        ),
        weekly_latest_day_schedule(
            "monitoring_weekly_schedule",
            monitoring,
            6,
            "monitoring",
            "Sundays 06:00 UTC: monitoring and the retrain decision for the latest complete day (the day before).",
        ),
    ]


@dg.definitions
def jobs_and_schedules(context: dg.ComponentLoadContext) -> dg.Definitions:
    datasets = datasets_in(context)
    jobs = etl_jobs([key for dataset in datasets for key in dataset.gold_keys])
    schedules = etl_schedules(*jobs)
    if any(dataset.ml for dataset in datasets):
        ml = ml_jobs()
        jobs += ml
        schedules += ml_schedules(*ml)
    return dg.Definitions(jobs=jobs, schedules=schedules)
