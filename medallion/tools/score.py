"""Ad-hoc scoring of a file: the contract's validation, the same engineer_features, the same scoring function.

For the same rows it gives exactly the probabilities of the partition run: that is the no-train-serve-skew promise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from medallion.contract import Contract
from medallion.logic.etl.cleaning import validate_feed
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.logic.etl.ingestion import bronze_from_frame, read_landing_file
from medallion.logic.ml.model_tags import ModelTags
from medallion.logic.ml.scoring import score_features
from medallion.ml_settings import MlSettings
from medallion.names import CHAMPION
from medallion.resources.mlflow_tracking import MlflowTracking


class ScoringInputError(ValueError):
    """The input file cannot be scored as a whole; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ScoreReport:
    scored: int
    rejected: int
    output: Path
    rejected_output: Path | None
    model_version: str


def choose_dataset(declares_ml: Mapping[str, bool], requested: str | None) -> str:
    """The dataset whose contract a scored file follows: `requested`, or the one dataset that declares ML."""
    names = sorted(declares_ml)
    if requested is not None:
        if requested not in declares_ml:
            raise ScoringInputError(
                f"--dataset {requested!r} is not a dataset of this project; choose one of {', '.join(names)}"
            )
        return requested
    with_ml = [name for name in names if declares_ml[name]]
    if len(with_ml) > 1:
        raise ScoringInputError(f"{len(with_ml)} datasets declare ML ({', '.join(with_ml)}); choose one with --dataset")
    if not with_ml:
        raise ScoringInputError(
            f"no dataset declares ML (`ml: true` or an `ml:` mapping in its defs.yaml); name the file's contract with "
            "--dataset, one of "
            f"{', '.join(names) or 'none: this project has no dataset'}"
        )
    return with_ml[0]


def champion_uri(dataset: str, ml: MlSettings | None) -> str:
    """The champion of the dataset's registered model; a dataset without ML has none to default to."""
    if ml is None:
        raise ScoringInputError(f"{dataset} declares no ML, so it has no registered model: name one with --model")
    return f"models:/{ml.names.model_name}@{CHAMPION}"


def read_input(path: Path, contract: Contract, day: date) -> pl.DataFrame:
    """The file as bronze records. A required contract column it lacks refuses it; a nullable one it lacks (rows
    from before the contract gained the column) is read as null, as the pipeline's silver does."""
    columns = contract.entity.column_names
    optional = {c.name for c in contract.entity.columns if c.nullable}
    now = datetime.now(UTC)
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        missing = [c for c in columns if c not in frame.columns and c not in optional]
        if missing:
            raise ScoringInputError(
                f"{path}: lacks contract column(s) {missing} of {contract.name}/{contract.entity.name}"
            )
        absent = [pl.lit(None, pl.String).alias(c) for c in columns if c not in frame.columns]
        return bronze_from_frame(frame.with_columns(absent), columns, path, day, now)
    if path.suffix != ".csv":
        raise ScoringInputError(f"{path}: unsupported input type {path.suffix!r}; use .csv or .parquet")
    bronze, header = read_landing_file(path, columns, day, now)
    missing = [c for c in header.missing if c not in optional]
    if missing:
        raise ScoringInputError(
            f"{path}: line 1: lacks contract column(s) {missing} of {contract.name}/{contract.entity.name}"
        )
    return bronze


def score_file(
    model_uri: str,
    input_path: Path,
    output_path: Path,
    contract: Contract,
    mlflow: MlflowTracking,
    day: date | None = None,
) -> ScoreReport:
    input_path, output_path = Path(input_path), Path(output_path)
    if not input_path.is_file():
        raise ScoringInputError(f"{input_path}: no such file")
    version, served = mlflow.resolve(model_uri)
    feature_set = feature_set_for(contract)
    trained_on = version.tags.get("feature_set_version")
    if trained_on != feature_set.version:
        raise ScoringInputError(
            f"{model_uri} (v{version.version}) was trained on feature set {trained_on}; the {contract.name} contract "
            f"({contract.source}) builds {feature_set.version}: score with a version trained on the current features"
        )
    checked = validate_feed(read_input(input_path, contract, day or datetime.now(UTC).date()), contract.entity)
    features = feature_set.engineer(checked.valid)
    tags = ModelTags.from_mlflow(version.tags, version.version)
    predictions = score_features(
        served.pipeline,
        features,
        feature_set.names,
        contract.key,
        tags.threshold,
        version.name,
        str(version.version),
        feature_set.version,
        datetime.now(UTC),
        used_days=tags.used_days,
    )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    predictions.write_parquet(output_path)
    rejected_path = None
    if checked.quarantine.height:
        rejected_path = output_path.with_name(output_path.stem + ".rejected.parquet")
        checked.quarantine.write_parquet(rejected_path)
    return ScoreReport(predictions.height, checked.quarantine.height, output_path, rejected_path, str(version.version))
