"""Every name the graph is wired by: layers, asset keys, check names, jobs, the warehouse pool and registry aliases.

Asset keys are `[layer, table]`; the ETL tables are named by each dataset's contract, the ML ones here.
"""

from __future__ import annotations

import dagster as dg

BRONZE, SILVER, GOLD, ML, SERVING = "bronze", "silver", "gold", "ml", "serving"
ETL_LAYERS = (BRONZE, SILVER, GOLD)


def table_key(layer: str, table: str) -> dg.AssetKey:
    return dg.AssetKey([layer, table])


TRAINING_SET = table_key(ML, "training_set")
MODEL = table_key(ML, "model")
MODEL_EVALUATION = table_key(ML, "model_evaluation")
PREDICTIONS = table_key(ML, "predictions")
MONITORING = table_key(ML, "monitoring")
RETRAIN_DECISION = table_key(ML, "retrain_decision")
SERVED_PREDICTIONS = table_key(SERVING, "predictions")
SERVED_DAILY_SUMMARY = table_key(SERVING, "daily_summary")
TRAINING_ASSETS = (TRAINING_SET, MODEL, MODEL_EVALUATION)
SERVING_ASSETS = (SERVED_PREDICTIONS, SERVED_DAILY_SUMMARY)
MONITORING_ASSETS = (MONITORING, RETRAIN_DECISION)

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
ONE_PREDICTION_PER_GOLD_ROW = "one_prediction_per_gold_row"
PROBABILITIES_IN_UNIT_INTERVAL = "probabilities_in_unit_interval"
NO_NULLS = "no_nulls"
SERVED_ROWS_MATCH_PREDICTIONS = "served_rows_match_predictions"
ONE_SUMMARY_ROW_PER_DAY = "one_summary_row_per_day"
FRESHNESS_CHECK = "freshness_check"  # the name build_time_partition_freshness_checks gives its checks

ETL_JOB = "etl_job"
FRESHNESS_CHECK_JOB = "freshness_check_job"
TRAINING_JOB = "training_job"
INFERENCE_JOB = "inference_job"
MONITORING_JOB = "monitoring_job"

# Every asset that writes the warehouse holds this pool; deploy/dagster.yaml limits it (DuckDB has one writer).
WAREHOUSE_POOL = "warehouse"

CHAMPION, CHALLENGER = "champion", "challenger"

# Run tags set by the automation.
TRIGGER_TAG = "medallion/trigger"
STAGE_TAG = "medallion/stage"
