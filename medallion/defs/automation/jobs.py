"""Jobs, named by what they run, and the schedules that run them. Each dataset has its own ETL job and daily schedule
and, declaring `ml`, its own ML jobs and schedules, all named by one rule (`Dataset.named`, `MlNames.named`): plain for
the dataset under the `ml` schema (etl_job, training_job, ...), `__<dataset>` for every other one (etl_job__toy_loans).
No job spans datasets: one dataset's empty days or bad header never show up in, or fail, another's run."""

from datetime import timedelta

import dagster as dg

from medallion.components import Dataset, datasets_in
from medallion.names import (
    ETL_SCHEDULE,
    FRESHNESS_CHECK_JOB,
    INFERENCE_SCHEDULE,
    MONITORING_SCHEDULE,
    STAGE_TAG,
    TRAINING_SCHEDULE,
    MlNames,
)


def freshness_job(datasets: list[Dataset]) -> dg.JobDefinition:
    """Every dataset's gold freshness checks: they judge the latest partition against the clock, not a run's days."""
    return dg.define_asset_job(
        FRESHNESS_CHECK_JOB,
        selection=dg.AssetSelection.checks(*[key for dataset in datasets for key in dataset.freshness_check_keys]),
        description="Checks that yesterday's gold partitions exist by their deadline.",
    )


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


def etl_schedule(dataset: Dataset, etl: dg.JobDefinition) -> dg.ScheduleDefinition:
    return previous_day_schedule(
        dataset.named(ETL_SCHEDULE), etl, 1, f"01:00 UTC: {etl.name} for the previous day's partition."
    )


def freshness_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="freshness_check_schedule",
        job=job,
        cron_schedule="0 4 * * *",
        execution_timezone="UTC",
        description="04:00 UTC: yesterday's gold partitions must exist by 03:00 UTC.",
    )


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
    freshness = freshness_job(datasets)
    jobs, schedules = [freshness], [freshness_schedule(freshness)]
    for dataset in datasets:
        etl = dataset.etl_job_definition()  # the landing sensor targets this same object
        jobs.append(etl)
        schedules.append(etl_schedule(dataset, etl))
        if dataset.ml_settings is not None:
            names = dataset.ml_settings.names
            ml = ml_jobs(names)
            jobs += ml
            schedules += ml_schedules(names, *ml)
    return dg.Definitions(jobs=jobs, schedules=schedules)
