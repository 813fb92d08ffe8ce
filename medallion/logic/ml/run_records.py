"""What a training run records in MLflow besides the model, so that the MLflow UI reads as its users expect: a child
run per candidate (its parameters and selection-day metrics under the same names, so candidates compare side by
side), the training, validation and holdout days as dataset inputs, descriptions on the runs, the registered model and
its version (each linking back to the Dagster run), and the holdout plots, whose PNG bytes the asset also shows.

The functions log to the active MLflow run (the fluent API), the one the asset started; they import mlflow lazily.
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from medallion.logic.ml.links import NOTE_TAG

SELECTION_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
MAX_DESCRIPTION = 5000  # the registry's description column
PLOTS = {"roc_curve": "ROC curve", "calibration": "Calibration", "confusion_matrix": "Confusion matrix"}


@dataclass(frozen=True)
class TrainingRecord:
    """Where a training run comes from: the dataset and label, the as-of day, the Dagster run and tags, and the
    Dagster page of the training-set partition the rows were read from."""

    dataset: str
    label: str
    as_of: date
    dagster_run_url: str
    training_set_url: str
    dagster_tags: Mapping[str, str]
    date_col: str = "application_date"


@dataclass(frozen=True)
class DayBlock:
    context: str  # "training" (fit), "validation" (chose the candidate and its threshold), "holdout" (measured)
    first_day: date
    last_day: date
    rows: int

    @property
    def days(self) -> str:
        return f"{self.first_day}..{self.last_day}"

    @property
    def name(self) -> str:
        return f"{self.context} {self.days}"


def day_blocks(result: Any) -> list[DayBlock]:
    return [
        DayBlock("training", *result.train_dates, result.n_train),
        DayBlock("validation", *result.valid_dates, result.n_valid),
        DayBlock("holdout", *result.holdout_dates, result.n_holdout),
    ]


def log_datasets(
    training_set: pl.DataFrame, result: Any, feature_names: Sequence[str], record: TrainingRecord
) -> dict[str, Any]:
    """The rows of each block of days as an MLflow dataset (features, label, day and key), logged as inputs of the
    active run with the block as context; returned by context for the candidates' runs."""
    import mlflow

    columns = [c for c in ("ID", record.date_col) if c in training_set.columns]
    columns += [*feature_names, record.label]
    datasets = {}
    for block in day_blocks(result):
        rows = training_set.filter(pl.col(record.date_col).is_between(block.first_day, block.last_day)).select(
            # A datetime, which MLflow's schema types exactly (a date would be logged with a warning).
            pl.col(columns).exclude(record.date_col),
            pl.col(record.date_col).cast(pl.Datetime("us")),
        )
        dataset = mlflow.data.from_polars(
            rows, source=record.training_set_url, targets=record.label, name=f"{record.dataset} {block.name}"
        )
        datasets[block.context] = dataset
        mlflow.log_input(dataset, context=block.context, tags={"days": block.days, "rows": str(block.rows)})
    return datasets


def log_candidate_runs(result: Any, datasets: Mapping[str, Any], record: TrainingRecord) -> dict[str, str]:
    """One child run per candidate: parameters, ranking metrics on the validation (selection) days, fit time and
    the days it was fitted and scored on. Returns the child run ids by candidate."""
    import mlflow

    parent = mlflow.active_run()
    train, valid, _ = day_blocks(result)
    run_ids = {}
    for name, metrics in result.metrics.items():
        chosen = name == result.best_name
        tags = {**record.dagster_tags, "candidate": name, "selected": str(chosen).lower()}
        with mlflow.start_run(
            # The parent's experiment, not the process's active one (a nested run does not inherit it).
            experiment_id=parent.info.experiment_id,
            run_name=name,
            nested=True,
            tags=tags,
            description=candidate_description(name, result, record),
        ) as child:
            mlflow.log_params({"candidate": name, "seed": result.seed, **result.candidate_params.get(name, {})})
            mlflow.log_metrics({f"selection.{m}": float(metrics[m]) for m in SELECTION_METRICS})
            if name in result.fit_seconds:
                mlflow.log_metric("fit_seconds", float(result.fit_seconds[name]))
            for block in (train, valid):
                mlflow.log_input(
                    datasets[block.context], context=block.context, tags={"days": block.days, "rows": str(block.rows)}
                )
            run_ids[name] = child.info.run_id
    mlflow.set_tags({"selected_candidate": result.best_name, "selected_candidate_run_id": run_ids[result.best_name]})
    return run_ids


def candidate_description(name: str, result: Any, record: TrainingRecord) -> str:
    train, valid, _ = day_blocks(result)
    metrics = result.metrics[name]
    verdict = (
        f"**Chosen** (highest ROC AUC on the validation days); its threshold was tuned there to {result.threshold:.4f}."
        if name == result.best_name
        else f"Not chosen: `{result.best_name}` had the higher ROC AUC on the validation days."
    )
    return (
        f"Candidate `{name}` of the `{record.dataset}` training as of {record.as_of}, "
        f"[Dagster run]({record.dagster_run_url}).\n\n"
        f"Fitted on the training days {train.days} ({train.rows} rows); ROC AUC {metrics['roc_auc']:.4f}, PR AUC "
        f"{metrics['pr_auc']:.4f}, log loss {metrics['log_loss']:.4f}, Brier {metrics['brier']:.4f} on the validation "
        f"days {valid.days} ({valid.rows} rows), which chose the candidate: optimistic for the winner.\n\n{verdict}"
    )


def training_summary(result: Any, record: TrainingRecord) -> str:
    train, valid, holdout = day_blocks(result)
    metrics = result.holdout_metrics
    return (
        f"`{result.best_name}` chosen among {', '.join(f'`{n}`' for n in result.metrics)} (one child run each): "
        f"fitted on the training days {train.days} ({train.rows} rows), chosen by ROC AUC and its threshold tuned "
        f"to {result.threshold:.4f} (F1) on the validation days {valid.days} ({valid.rows} rows).\n\n"
        f"**Holdout** {holdout.days} ({holdout.rows} rows, not used to fit, choose or tune): ROC AUC "
        f"{metrics['roc_auc']:.4f} ± {result.holdout_auc_se:.4f}, PR AUC {metrics['pr_auc']:.4f}, Brier "
        f"{metrics['brier']:.4f}, F1 {metrics['f1']:.4f}, precision {metrics['precision']:.4f}, recall "
        f"{metrics['recall']:.4f}."
    )


def run_description(
    result: Any, record: TrainingRecord, model_name: str, version: str, version_url: str, job: str
) -> str:
    return (
        f"Training of `{record.dataset}` (label `{record.label}`) as of {record.as_of} by "
        f"[Dagster run {record.dagster_run_url.rsplit('/', 1)[-1][:8]}]({record.dagster_run_url}) of `{job}`.\n\n"
        f"{training_summary(result, record)}\n\nRegistered as [{model_name} version {version}]({version_url})."
    )


def version_description(result: Any, record: TrainingRecord, run_url: str) -> str:
    return (
        f"`{result.best_name}` pipeline for `{record.dataset}` trained as of {record.as_of}; predicts the probability "
        f"of `{record.label}` and a label at the threshold {result.threshold:.4f}.\n\n"
        f"{training_summary(result, record)}\n\n"
        f"Logged by [this MLflow run]({run_url}) from [this Dagster run]({record.dagster_run_url})."
    )


def registered_model_description(model_name: str, record: TrainingRecord) -> str:
    return (
        f"`{record.dataset}`'s classifier of `{record.label}`, trained and promoted by the medallion Dagster "
        "project: `ml/model` registers one version per training run (its description says on which days it was "
        "fitted, chosen and measured), `ml/model_evaluation` gives it the `champion` alias when it is better than "
        "the champion on days neither used, else `challenger`, and `ml/predictions` scores each day with "
        f"`models:/{model_name}@champion`."
    )


def describe(
    client: Any,
    model_name: str,
    version: str,
    result: Any,
    record: TrainingRecord,
    run_url: str,
    version_url: str,
    job: str,
) -> None:
    """Descriptions of the active run, the new version and the registered model; the run's is its note tag."""
    import mlflow

    mlflow.set_tag(NOTE_TAG, run_description(result, record, model_name, version, version_url, job))
    client.update_model_version(model_name, version, description=version_description(result, record, run_url))
    described = registered_model_description(model_name, record)
    if client.get_registered_model(model_name).description != described:
        client.update_registered_model(model_name, description=described)


def log_plots(result: Any) -> dict[str, bytes]:
    """The holdout's ROC curve, calibration and confusion matrix, logged under plots/; returns each PNG's bytes."""
    import mlflow

    from medallion.logic.ml.training import plot_calibration, plot_confusion_matrix, plot_roc

    y_pred = (result.proba_holdout >= result.threshold).astype(int)
    with tempfile.TemporaryDirectory() as folder:
        paths = {
            "roc_curve": plot_roc(result.y_holdout, result.proba_holdout, Path(folder) / "roc_curve.png"),
            "calibration": plot_calibration(result.y_holdout, result.proba_holdout, Path(folder) / "calibration.png"),
            "confusion_matrix": plot_confusion_matrix(result.y_holdout, y_pred, Path(folder) / "confusion_matrix.png"),
        }
        mlflow.log_artifacts(folder, artifact_path="plots")
        return {name: path.read_bytes() for name, path in paths.items()}


def png_markdown(png: bytes, title: str) -> str:
    """Markdown showing the image itself: Dagster's UI renders data: images in markdown metadata (its sanitizer
    allows the data protocol for image sources), in the entry's dialog."""
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"


def experiment_description(experiment: str) -> str:
    return (
        f"`{experiment}`: medallion's model training, one run per materialization of `ml/model` (Dagster). A parent "
        "run holds the chosen model, its holdout metrics (`holdout.*`), plots, drift references and the training, "
        "validation and holdout days as datasets; under it, one child run per candidate with its parameters and "
        "`selection.*` metrics on the validation days, to compare candidates side by side. Each run's description "
        "and `dagster.run_url` tag link to the Dagster run."
    )


def with_promotion(description: str | None, alias: str, reason: str, measured_on: str, dagster_run_url: str) -> str:
    """A version's description with the promotion decision of ml/model_evaluation (replacing an earlier one)."""
    kept = (description or "").split("\n\n**Promotion**", 1)[0][:2500]
    compared = f" Compared on {measured_on}." if measured_on != "no rows" else ""
    note = f"**Promotion** ([Dagster run]({dagster_run_url})): `{alias}`: {reason[:2000].rstrip('.')}.{compared}"
    return f"{kept}\n\n{note}".strip()[:MAX_DESCRIPTION]
