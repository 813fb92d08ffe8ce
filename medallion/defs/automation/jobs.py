"""Jobs, named by what they run, and the schedules that run them. Each dataset declaring `ml` has its own ML jobs
and schedules (named by its MlNames: plain for the dataset under the `ml` schema, `__<dataset>` for the others)."""

from datetime import timedelta

import dagster as dg

from medallion.components import datasets_in
from medallion.names import (
    ETL_JOB,
    ETL_LAYERS,
    FRESHNESS_CHECK,
    FRESHNESS_CHECK_JOB,
    INFERENCE_SCHEDULE,
    MONITORING_SCHEDULE,
    STAGE_TAG,
    TRAINING_SCHEDULE,
    MlNames,
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


def ml_jobs(names: MlNames) -> list[dg.JobDefinition]:
    dataset = f" ({names.dataset})"
    return [
        dg.define_asset_job(
            names.training_job,
            selection=dg.AssetSelection.assets(*names.training_assets),
            description=f"Point-in-time training set → candidate models in MLflow → champion/challenger evaluation "
            f"and aliases{dataset}.",
            tags={STAGE_TAG: "training"},
        ),
        dg.define_asset_job(
            names.inference_job,
            selection=dg.AssetSelection.assets(names.predictions, *names.serving_assets),
            description=f"Scores the day's gold features with the champion and loads the predictions and the day's "
            f"summary into the serving targets{dataset}.",
            tags={STAGE_TAG: "inference"},
        ),
        dg.define_asset_job(
            names.monitoring_job,
            selection=dg.AssetSelection.assets(*names.monitoring_assets),
            description=f"Drift, late-label performance and data quality over the trailing window "
            f"→ the retrain decision{dataset}.",
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


def ml_schedules(
    names: MlNames, training: dg.JobDefinition, inference: dg.JobDefinition, monitoring: dg.JobDefinition
) -> list[dg.ScheduleDefinition]:
    return [
        weekly_latest_day_schedule(
            names.named(TRAINING_SCHEDULE),
            training,
            5,
            names.named("training"),
            "Sundays 05:00 UTC: train, evaluate and promote for the latest complete day (the day before).",
        ),
        previous_day_schedule(
            names.named(INFERENCE_SCHEDULE),
            inference,
            2,
            "02:00 UTC, after the ETL: predictions for the previous day with the champion.",
        ),
        weekly_latest_day_schedule(
            names.named(MONITORING_SCHEDULE),
            monitoring,
            6,
            names.named("monitoring"),
            "Sundays 06:00 UTC: monitoring and the retrain decision for the latest complete day (the day before).",
        ),
    ]


@dg.definitions
def jobs_and_schedules(context: dg.ComponentLoadContext) -> dg.Definitions:
    datasets = datasets_in(context)
    jobs = etl_jobs([key for dataset in datasets for key in dataset.gold_keys])
    schedules = etl_schedules(*jobs)
    for dataset in datasets:
        if dataset.ml_settings is not None:
            names = dataset.ml_settings.names
            ml = ml_jobs(names)
            jobs += ml
            schedules += ml_schedules(names, *ml)
    return dg.Definitions(jobs=jobs, schedules=schedules)
