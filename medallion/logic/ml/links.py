"""Absolute links between the two UIs: Dagster metadata → MLflow experiment, run and model version; MLflow → Dagster.

MLflow's UI routes after a `#` (a hash router). Its 3.17 UI chooses the pages' mode (GenAI or model training) from a
sidebar switch that defaults to GenAI and is remembered by the browser, not from the experiment's kind tag (seen in
headless Chromium: an experiment tagged custom_model_development still opened as GenAI); a `workflowType` query
parameter on the route overrides the switch, so the links open the classic model-training pages. The experiment's
`mlflow.experimentKind` tag (EXPERIMENT_KIND) says the same for API clients and for UIs that read it.
"""

from __future__ import annotations

from urllib.parse import quote

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"  # MLflow's "Machine learning" kind; the other is "genai_development"
ML_WORKFLOW = "workflowType=machine_learning"
NOTE_TAG = "mlflow.note.content"  # a run's or experiment's description in the MLflow UI (markdown)
DAGSTER_RUN_URL_TAG = "dagster.run_url"


def _base(url: str) -> str:
    return url.rstrip("/")


def mlflow_experiment_url(base: str, experiment_id: str) -> str:
    return f"{_base(base)}/#/experiments/{quote(str(experiment_id), safe='')}?{ML_WORKFLOW}"


def mlflow_run_url(base: str, experiment_id: str, run_id: str) -> str:
    return (
        f"{_base(base)}/#/experiments/{quote(str(experiment_id), safe='')}/runs/{quote(str(run_id), safe='')}"
        f"?{ML_WORKFLOW}"
    )


def mlflow_model_version_url(base: str, model_name: str, version: str) -> str:
    return f"{_base(base)}/#/models/{quote(model_name, safe='')}/versions/{quote(str(version), safe='')}?{ML_WORKFLOW}"


def dagster_run_url(base: str, run_id: str) -> str:
    return f"{_base(base)}/runs/{quote(run_id, safe='')}"


def dagster_asset_url(base: str, asset_path: str, partition: str | None = None) -> str:
    """An asset's page (`asset_path` as `ml/training_set`), on its partitions tab at `partition` when given."""
    path = "/".join(quote(part, safe="") for part in asset_path.split("/"))
    query = f"?view=partitions&partition={quote(partition, safe='')}" if partition else ""
    return f"{_base(base)}/assets/{path}{query}"
