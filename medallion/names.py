"""Every name the graph is wired by: layers, asset keys, check names, jobs, the warehouse pool and registry aliases.

Asset keys are `[layer, table]`; the ETL tables are named by each dataset's contract, the ML ones by `MlNames`.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

BRONZE, SILVER, GOLD, ML, SERVING = "bronze", "silver", "gold", "ml", "serving"
ETL_LAYERS = (BRONZE, SILVER, GOLD)


def table_key(layer: str, table: str) -> dg.AssetKey:
    return dg.AssetKey([layer, table])


def table_name(layer: str, table: str) -> str:
    """The warehouse table (`schema.table`) the IO manager stores the asset `[layer, table]` in."""
    return f"{layer}.{table}"


def manifest_table(feed: str) -> str:
    """The bronze table listing every file seen under a feed's day folders (written with the feed's records)."""
    return f"{feed}_files"


# Two keys of the plain `ml` schema (the shipped dataset's); each dataset's ML keys come from its MlNames.
MODEL = table_key(ML, "model")
RETRAIN_DECISION = table_key(ML, "retrain_decision")

# Checks, named by what must hold.
FILES_ARRIVED = "files_arrived"
HEADER_MATCHES_CONTRACT = "header_matches_contract"
ROWS_CONSERVED = "rows_conserved"
KEY_UNIQUE = "key_unique"
COMPLETENESS = "completeness"
VALIDITY = "validity"
QUARANTINE_RATE = "quarantine_rate"
FEATURE_NULL_RATES = "feature_null_rates"
FEATURE_RANGES = "feature_ranges"
LABELS_NOT_BEFORE_APPLICATION = "labels_not_before_application"
OUTCOMES_MATCHED = "outcomes_matched"
LABELS_NOT_FROM_FUTURE = "labels_not_from_future"
MODEL_QUALITY_FLOOR = "model_quality_floor"
PROMOTIONS_HELD = "promotions_held"
ONE_PREDICTION_PER_GOLD_ROW = "one_prediction_per_gold_row"
PROBABILITIES_IN_UNIT_INTERVAL = "probabilities_in_unit_interval"
NO_NULLS = "no_nulls"
SERVED_ROWS_MATCH_PREDICTIONS = "served_rows_match_predictions"
ONE_SUMMARY_ROW_PER_DAY = "one_summary_row_per_day"
FRESHNESS_CHECK = "freshness_check"  # the name build_time_partition_freshness_checks gives its checks

ETL_JOB = "etl_job"  # each dataset's own: etl_job, etl_job__<dataset> (see dataset_named)
FRESHNESS_CHECK_JOB = "freshness_check_job"
TRAINING_JOB = "training_job"
INFERENCE_JOB = "inference_job"
MONITORING_JOB = "monitoring_job"

ETL_SCHEDULE = "etl_daily_schedule"
LANDING_SENSOR = "landing_sensor"  # one sensor for every dataset, each request naming its dataset's ETL job
RETRAIN_SENSOR = "retrain_sensor"
SERVING_LOADS = "serving_loads"
TRAINING_SCHEDULE = "training_weekly_schedule"
INFERENCE_SCHEDULE = "inference_daily_schedule"
MONITORING_SCHEDULE = "monitoring_weekly_schedule"

# Every asset that writes the warehouse holds this pool; deploy/dagster.yaml limits it (DuckDB has one writer).
WAREHOUSE_POOL = "warehouse"

CHAMPION, CHALLENGER = "champion", "challenger"

# Run tags set by the automation.
TRIGGER_TAG = "medallion/trigger"
STAGE_TAG = "medallion/stage"
# Set by a production-profile Celery worker on each run it takes: its node name, e.g. worker1@host.
WORKER_TAG = "medallion/worker"


def dataset_named(name: str, dataset: str, plain: bool) -> str:
    """A dataset's own job, schedule or sensor: `name` for the dataset whose ML schema is the plain `ml` (`plain`),
    `name__<dataset>` for every other one, with or without ML (etl_job, etl_job__toy_loans)."""
    return name if plain else f"{name}__{dataset}"


@dataclass(frozen=True)
class MlNames:
    """One dataset's ML lifecycle: its asset keys (`[schema, table]`, the schema being the warehouse's too), its
    serving schema, its registered model, and its jobs, schedules and sensor. The dataset whose ML schema is the plain
    `ml` keeps the plain names (training_job, ...); every other one's end in `__<dataset>`."""

    dataset: str
    model_name: str
    schema: str = ML
    serving_schema: str = SERVING

    @property
    def plain(self) -> bool:
        return self.schema == ML

    @property
    def suffix(self) -> str:
        return dataset_named("", self.dataset, self.plain)

    @property
    def files_folder(self) -> str:
        """Where under the decisions and monitoring folders its files go ("" for the plain `ml` dataset)."""
        return "" if self.schema == ML else self.dataset

    def key(self, table: str) -> dg.AssetKey:
        return table_key(self.schema, table)

    def sql(self, table: str) -> str:
        return f"{self.schema}.{table}"

    def named(self, name: str) -> str:
        return dataset_named(name, self.dataset, self.plain)

    @property
    def training_set(self) -> dg.AssetKey:
        return self.key("training_set")

    @property
    def model(self) -> dg.AssetKey:
        return self.key("model")

    @property
    def model_evaluation(self) -> dg.AssetKey:
        return self.key("model_evaluation")

    @property
    def predictions(self) -> dg.AssetKey:
        return self.key("predictions")

    @property
    def monitoring(self) -> dg.AssetKey:
        return self.key("monitoring")

    @property
    def retrain_decision(self) -> dg.AssetKey:
        return self.key("retrain_decision")

    @property
    def served_predictions(self) -> dg.AssetKey:
        return table_key(self.serving_schema, "predictions")

    @property
    def served_daily_summary(self) -> dg.AssetKey:
        return table_key(self.serving_schema, "daily_summary")

    @property
    def training_assets(self) -> tuple[dg.AssetKey, ...]:
        return (self.training_set, self.model, self.model_evaluation)

    @property
    def serving_assets(self) -> tuple[dg.AssetKey, ...]:
        return (self.served_predictions, self.served_daily_summary)

    @property
    def monitoring_assets(self) -> tuple[dg.AssetKey, ...]:
        return (self.monitoring, self.retrain_decision)

    @property
    def training_job(self) -> str:
        return self.named(TRAINING_JOB)

    @property
    def inference_job(self) -> str:
        return self.named(INFERENCE_JOB)

    @property
    def monitoring_job(self) -> str:
        return self.named(MONITORING_JOB)

    @property
    def layers(self) -> dict[str, str]:
        """Key prefix → layer, for the layer policies."""
        return {self.schema: ML, self.serving_schema: SERVING}
