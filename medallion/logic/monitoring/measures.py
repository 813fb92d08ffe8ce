"""Monitoring over a trailing window: late-label performance per model version, prediction drift, data quality.

Live performance and prediction drift use out-of-sample rows only: predictions of days the scoring version was
not fitted, tuned or measured on (`in_sample` false); how many in-sample rows were left out is recorded. Every
measure lands in one long table (one measurement per row, `kind` says which) so that a single
partitioned table holds a window's numbers, its per-feature PSI rows and its daily trends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from medallion.logic.monitoring.drift import FeatureReference, psi_level

MEASUREMENT_SCHEMA = {
    "partition_date": pl.Date,
    "window_start": pl.Date,
    "window_end": pl.Date,
    "kind": pl.String,
    "subject": pl.String,
    "model_version": pl.String,
    "day": pl.Date,
    "value": pl.Float64,
    "reference_value": pl.Float64,
    "n": pl.Int64,
    "level": pl.String,
    "p_value": pl.Float64,
    "feature_group": pl.String,
}
# The performance rows of every served version's matured labels pooled: what the deployed system did as a whole.
DEPLOYED = "deployed"
MATURED_SCHEMA = {
    "partition_date": pl.Date,
    "model_version": pl.String,
    "probability": pl.Float64,
    "label": pl.Int8,
    "in_sample": pl.Boolean,
}


def out_of_sample(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows scored on a day their version did not use; frames without `in_sample` count as out of sample."""
    return frame.filter(~pl.col("in_sample")) if "in_sample" in frame.columns else frame


def trailing_window(day: date, days: int) -> tuple[date, date]:
    if days < 1:
        raise ValueError(f"a monitoring window needs at least 1 day, got {days}")
    return day - timedelta(days=days - 1), day


def join_matured(predictions: pl.DataFrame, labels: pl.DataFrame, key: str, label: str) -> pl.DataFrame:
    """Predictions whose outcome is known: a label matches on the key and on application_date = the prediction's day."""
    if predictions.is_empty() or labels.is_empty():
        return pl.DataFrame(schema=MATURED_SCHEMA)
    outcomes = labels.select(
        pl.col(key), pl.col("application_date").alias("partition_date"), pl.col(label).cast(pl.Int8).alias("label")
    ).unique([key, "partition_date"])
    in_sample = pl.col("in_sample") if "in_sample" in predictions.columns else pl.lit(False)
    return predictions.join(outcomes, on=[key, "partition_date"], how="inner").select(
        "partition_date",
        pl.col("model_version").cast(pl.String),
        pl.col("probability").cast(pl.Float64),
        "label",
        in_sample.cast(pl.Boolean).alias("in_sample"),
    )


def roc_auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """ROC AUC, or None when only one class is present (AUC is undefined then)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels).astype(int)
    if labels.size == 0 or np.unique(labels).size < 2:
        return None
    return float(roc_auc_score(labels, np.asarray(probabilities, dtype=float)))


def roc_auc_se(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """DeLong's standard error of the ROC AUC, or None when it is undefined."""
    from medallion.logic.ml.evaluation import auc_standard_error

    labels = np.asarray(labels).astype(int)
    if labels.size == 0 or np.unique(labels).size < 2:
        return None
    return auc_standard_error(labels, np.asarray(probabilities, dtype=float))


def performance_by_version(matured: pl.DataFrame) -> pl.DataFrame:
    """Per model version: matured label count, ROC AUC with its standard error, Brier score, observed and predicted
    default rates."""
    rows = []
    for (version,), group in matured.group_by("model_version", maintain_order=True):
        y, p = group["label"].to_numpy(), group["probability"].to_numpy()
        rows.append(
            {
                "model_version": version,
                "matured_labels": group.height,
                "roc_auc": roc_auc(y, p),
                "roc_auc_se": roc_auc_se(y, p),
                "brier": float(np.mean((p - y) ** 2)),
                "positive_rate": float(y.mean()),
                "mean_probability": float(p.mean()),
            }
        )
    schema = {
        "model_version": pl.String,
        "matured_labels": pl.Int64,
        "roc_auc": pl.Float64,
        "roc_auc_se": pl.Float64,
        "brier": pl.Float64,
        "positive_rate": pl.Float64,
        "mean_probability": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort("model_version")


def auc_by_day(matured: pl.DataFrame) -> pl.DataFrame:
    """ROC AUC per prediction day and version: how ranking quality moves over time."""
    rows = [
        {
            "day": day,
            "model_version": version,
            "roc_auc": roc_auc(g["label"].to_numpy(), g["probability"].to_numpy()),
            "n": g.height,
        }
        for (day, version), g in matured.group_by(["partition_date", "model_version"])
    ]
    schema = {"day": pl.Date, "model_version": pl.String, "roc_auc": pl.Float64, "n": pl.Int64}
    return pl.DataFrame(rows, schema=schema).sort(["day", "model_version"])


def calibration_table(matured: pl.DataFrame, n_bins: int = 10) -> pl.DataFrame:
    """Mean predicted probability against the observed default rate, in equal-count bins (deciles) per version."""
    if matured.is_empty():
        return pl.DataFrame(
            schema={
                "model_version": pl.String,
                "bin": pl.Int64,
                "mean_predicted": pl.Float64,
                "observed_rate": pl.Float64,
                "n": pl.Int64,
            }
        )
    rank = pl.col("probability").rank("ordinal").over("model_version") - 1
    binned = matured.with_columns((rank * n_bins // pl.len().over("model_version")).cast(pl.Int64).alias("bin"))
    return (
        binned.group_by(["model_version", "bin"])
        .agg(
            pl.col("probability").mean().alias("mean_predicted"),
            pl.col("label").cast(pl.Float64).mean().alias("observed_rate"),
            pl.len().cast(pl.Int64).alias("n"),
        )
        .sort(["model_version", "bin"])
    )


def prediction_drift(predictions: pl.DataFrame, references: Mapping[str, FeatureReference]) -> pl.DataFrame:
    """PSI of each version's predicted probabilities against that version's holdout probabilities, with its no-drift
    p-value at that many rows."""
    rows = []
    for (version,), group in predictions.group_by("model_version", maintain_order=True):
        reference = references.get(str(version))
        if reference is None or group.is_empty():
            continue
        value = reference.psi(group["probability"].cast(pl.Float64).to_numpy())
        rows.append(
            {
                "model_version": str(version),
                "psi": value,
                "level": psi_level(value),
                "n": group.height,
                "p_value": reference.p_value(value, group.height),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "model_version": pl.String,
            "psi": pl.Float64,
            "level": pl.String,
            "n": pl.Int64,
            "p_value": pl.Float64,
        },
    ).sort("model_version")


def quarantine_trend(bronze_counts: pl.DataFrame, quarantine_counts: pl.DataFrame) -> pl.DataFrame:
    """Per day and feed: landed rows, quarantined rows and their share. Inputs: (partition_date, feed, rows)."""
    joined = bronze_counts.join(
        quarantine_counts.rename({"rows": "quarantined"}), on=["partition_date", "feed"], how="full", coalesce=True
    ).with_columns(pl.col("rows").fill_null(0), pl.col("quarantined").fill_null(0))
    return joined.with_columns(
        pl.when(pl.col("rows") > 0)
        .then(pl.col("quarantined") / pl.col("rows"))
        .otherwise(None)
        .alias("quarantine_rate")
    ).sort(["partition_date", "feed"])


def null_rate_trend(features: pl.DataFrame, feature_names: Sequence[str]) -> pl.DataFrame:
    """Per day and feature: the share of null values."""
    if features.is_empty():
        return pl.DataFrame(
            schema={"partition_date": pl.Date, "feature": pl.String, "rows": pl.Int64, "null_rate": pl.Float64}
        )
    per_day = features.group_by("partition_date").agg(
        pl.len().cast(pl.Int64).alias("rows"), *[pl.col(name).null_count().alias(name) for name in feature_names]
    )
    return (
        per_day.unpivot(
            index=["partition_date", "rows"], on=list(feature_names), variable_name="feature", value_name="nulls"
        )
        .with_columns((pl.col("nulls") / pl.col("rows")).alias("null_rate"))
        .select("partition_date", "feature", "rows", "null_rate")
        .sort(["partition_date", "feature"])
    )


@dataclass(frozen=True)
class Holdout:
    """A version's holdout AUC, its standard error and rows: what its own live AUC is compared with."""

    auc: float | None
    se: float | None = None
    rows: int | None = None


@dataclass(frozen=True)
class WindowMeasures:
    """Everything measured over one window; `champion_version`'s numbers feed the retrain decision."""

    day: date
    window: tuple[date, date]
    champion_version: str | None
    holdout_auc: float | None  # the champion's, on its holdout days
    predictions_per_version: pl.DataFrame  # model_version, n
    feature_drift: pl.DataFrame  # feature, psi, level, p_value, group
    prediction_drift: pl.DataFrame
    performance: pl.DataFrame  # out-of-sample matured labels only
    daily_auc: pl.DataFrame
    calibration: pl.DataFrame
    quarantine: pl.DataFrame
    null_rates: pl.DataFrame
    holdout_auc_se: float | None = None
    holdout_rows: int | None = None
    in_sample_excluded: dict[str, int] = field(default_factory=dict)  # matured in-sample labels left out, per version
    holdouts: dict[str, Holdout] = field(default_factory=dict)  # each served version's, beside the champion's
    deployed: pl.DataFrame | None = None  # every version's out-of-sample matured labels pooled (model_version DEPLOYED)

    def to_frame(self) -> pl.DataFrame:
        rows: list[dict] = [
            {
                "kind": "champion",
                "subject": "holdout_auc",
                "model_version": self.champion_version,
                "value": self.holdout_auc,
                "n": self.holdout_rows,
            },
            {
                "kind": "champion",
                "subject": "holdout_auc_se",
                "model_version": self.champion_version,
                "value": self.holdout_auc_se,
                "n": self.holdout_rows,
            },
        ]
        for version, holdout in sorted(self.holdouts.items()):
            rows += [
                {"kind": "holdout", "subject": "holdout_auc", "model_version": version, "value": holdout.auc},
                {"kind": "holdout", "subject": "holdout_auc_se", "model_version": version, "value": holdout.se},
            ]
            for row in rows[-2:]:
                row["n"] = holdout.rows
        rows += [
            {"kind": "predictions", "subject": "count", "model_version": v, "n": n}
            for v, n in self.predictions_per_version.iter_rows()
        ]
        n_features = int(self.null_rates.group_by("partition_date").agg(pl.col("rows").first())["rows"].sum() or 0)
        rows += [
            {
                "kind": "feature_psi",
                "subject": f,
                "model_version": self.champion_version,
                "value": psi,
                "level": level,
                "p_value": p,
                "feature_group": group,
                "n": n_features,
            }
            for f, psi, level, p, group in self.feature_drift.select(
                "feature", "psi", "level", "p_value", "group"
            ).iter_rows()
        ]
        rows += [
            {
                "kind": "prediction_psi",
                "subject": "probability",
                "model_version": v,
                "value": psi,
                "level": level,
                "n": n,
                "p_value": p,
            }
            for v, psi, level, n, p in self.prediction_drift.iter_rows()
        ]
        rows += [
            {"kind": "performance", "subject": "in_sample_excluded", "model_version": v, "n": n}
            for v, n in sorted(self.in_sample_excluded.items())
        ]
        performance = self.performance if self.deployed is None else pl.concat([self.performance, self.deployed])
        for r in performance.iter_rows(named=True):
            rows += [
                {
                    "kind": "performance",
                    "subject": metric,
                    "model_version": r["model_version"],
                    "value": r[metric],
                    "n": r["matured_labels"],
                }
                for metric in ("roc_auc", "roc_auc_se", "brier", "positive_rate", "mean_probability")
            ]
        rows += [
            {"kind": "daily_auc", "subject": "roc_auc", "model_version": v, "day": d, "value": auc, "n": n}
            for d, v, auc, n in self.daily_auc.iter_rows()
        ]
        rows += [
            {
                "kind": "calibration",
                "subject": f"bin {b}",
                "model_version": v,
                "value": observed,
                "reference_value": predicted,
                "n": n,
            }
            for v, b, predicted, observed, n in self.calibration.select(
                "model_version", "bin", "mean_predicted", "observed_rate", "n"
            ).iter_rows()
        ]
        rows += [
            {"kind": "quarantine_rate", "subject": feed, "day": d, "value": rate, "n": total}
            for d, feed, total, rate in self.quarantine.select(
                "partition_date", "feed", "rows", "quarantine_rate"
            ).iter_rows()
        ]
        rows += [
            {"kind": "null_rate", "subject": f, "day": d, "value": rate, "n": total}
            for d, f, total, rate in self.null_rates.iter_rows()
        ]
        frame = pl.DataFrame(
            rows,
            schema={
                k: v for k, v in MEASUREMENT_SCHEMA.items() if k not in ("partition_date", "window_start", "window_end")
            },
        )
        return frame.select(
            pl.lit(self.day).alias("partition_date"),
            pl.lit(self.window[0]).alias("window_start"),
            pl.lit(self.window[1]).alias("window_end"),
            pl.all(),
        )


@dataclass(frozen=True)
class DecisionInputs:
    """decide_retrain's keyword arguments, read back from a window's measurements. Performance is judged on what was
    served: the champion's own matured labels when it has enough, else those of the latest version that served the
    window (a champion promoted last week has none for a label delay; its predecessor's are the live evidence)."""

    model_version: str | None
    holdout_auc: float | None
    live_auc: float | None
    matured_labels: int
    n_predictions: int
    prediction_psi: float | None
    feature_psi: dict[str, float]
    holdout_auc_se: float | None = None
    live_auc_se: float | None = None
    in_sample_excluded: int = 0
    prediction_psi_p_value: float | None = None
    feature_psi_p_values: dict[str, float] = field(default_factory=dict)
    feature_groups: dict[str, str] = field(default_factory=dict)
    performance_version: str | None = None  # whose matured labels the performance rules judge
    champion_labels: int = 0  # the champion's own out-of-sample matured labels
    deployed_auc: float | None = None  # every served version's matured labels pooled
    deployed_auc_se: float | None = None
    deployed_labels: int = 0
    served_versions: list[str] = field(default_factory=list)  # versions with matured labels in the window
    window_notes: list[str] = field(default_factory=list)  # windows grown past the configured days, and why


def version_order(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (-1, version)


def decision_inputs(measurements: pl.DataFrame, min_matured_labels: int = 0) -> DecisionInputs:
    """What decide_retrain needs, read back from a window's measurement rows (see DecisionInputs)."""

    def rows(kind: str, version: str | None = None) -> pl.DataFrame:
        found = measurements.filter(pl.col("kind") == kind)
        return found.filter(pl.col("model_version") == version) if version is not None else found

    def value(kind: str, subject: str, version: str | None, column: str = "value"):
        if version is None:
            return None
        found = rows(kind, version).filter(pl.col("subject") == subject)
        return found[column][0] if found.height else None

    def labels_of(version: str | None) -> int:
        return int(value("performance", "roc_auc", version, "n") or 0)

    champion = rows("champion")
    version = champion["model_version"][0] if champion.height else None
    served = sorted(
        {v for v in rows("performance").filter(pl.col("subject") == "roc_auc")["model_version"] if v != DEPLOYED},
        key=version_order,
    )
    judged, needed = version, max(min_matured_labels, 1)
    if labels_of(version) < needed:
        enough = [v for v in served if v != version and labels_of(v) >= needed]
        judged = enough[-1] if enough else version

    def holdout(subject: str) -> float | None:
        found = value("holdout", subject, judged)
        return value("champion", subject, judged) if found is None and judged == version else found

    prediction = rows("prediction_psi", version) if version else pl.DataFrame()
    features = rows("feature_psi").filter(pl.col("value").is_not_null())
    return DecisionInputs(
        model_version=version,
        holdout_auc=holdout("holdout_auc"),
        holdout_auc_se=holdout("holdout_auc_se"),
        live_auc=value("performance", "roc_auc", judged),
        live_auc_se=value("performance", "roc_auc_se", judged),
        matured_labels=labels_of(judged),
        in_sample_excluded=int(value("performance", "in_sample_excluded", judged, "n") or 0),
        n_predictions=int(rows("predictions")["n"].sum() or 0),
        prediction_psi=prediction["value"][0] if prediction.height else None,
        prediction_psi_p_value=prediction["p_value"][0] if prediction.height else None,
        feature_psi=dict(features.select("subject", "value").iter_rows()),
        feature_psi_p_values={f: p for f, p in features.select("subject", "p_value").iter_rows() if p is not None},
        feature_groups={f: g for f, g in features.select("subject", "feature_group").iter_rows() if g is not None},
        performance_version=judged,
        champion_labels=labels_of(version),
        deployed_auc=value("performance", "roc_auc", DEPLOYED),
        deployed_auc_se=value("performance", "roc_auc_se", DEPLOYED),
        deployed_labels=labels_of(DEPLOYED),
        served_versions=served,
        window_notes=[note for note in rows("window")["level"] if note],
    )


def measure_window(
    day: date,
    window: tuple[date, date],
    predictions: pl.DataFrame,
    matured: pl.DataFrame,
    features: pl.DataFrame,
    feature_names: Sequence[str],
    feature_reference: Mapping[str, FeatureReference] | None,
    prediction_references: Mapping[str, FeatureReference],
    champion_version: str | None,
    holdout_auc: float | None,
    bronze_counts: pl.DataFrame,
    quarantine_counts: pl.DataFrame,
    calibration_bins: int = 10,
    holdout_auc_se: float | None = None,
    holdout_rows: int | None = None,
    holdouts: Mapping[str, Holdout] | None = None,
) -> WindowMeasures:
    """All measures of one window. Feature drift needs the champion's reference and at least one feature row
    (the caller passes the days the champion did not use); performance and prediction drift keep out-of-sample
    rows only."""
    from medallion.logic.monitoring.drift import DRIFT_SCHEMA, feature_drift

    no_drift = pl.DataFrame(schema=DRIFT_SCHEMA)
    drift = feature_drift(feature_reference, features) if feature_reference and not features.is_empty() else no_drift
    live = out_of_sample(matured)
    excluded = matured.filter(pl.col("in_sample")) if "in_sample" in matured.columns else matured.clear()
    in_sample_excluded = dict(excluded.group_by("model_version").len().iter_rows())
    counts = (
        predictions.group_by(pl.col("model_version").cast(pl.String))
        .agg(pl.len().cast(pl.Int64).alias("n"))
        .sort("model_version")
    )
    pooled = live.with_columns(pl.lit(DEPLOYED).alias("model_version"))
    return WindowMeasures(
        day=day,
        window=window,
        champion_version=champion_version,
        holdout_auc=holdout_auc,
        predictions_per_version=counts,
        feature_drift=drift,
        prediction_drift=prediction_drift(out_of_sample(predictions), prediction_references),
        performance=performance_by_version(live),
        daily_auc=auc_by_day(live),
        calibration=calibration_table(live, calibration_bins),
        quarantine=quarantine_trend(bronze_counts, quarantine_counts),
        null_rates=null_rate_trend(features, feature_names),
        holdout_auc_se=holdout_auc_se,
        holdout_rows=holdout_rows,
        in_sample_excluded={str(v): int(n) for v, n in in_sample_excluded.items()},
        holdouts=dict(holdouts or {}),
        deployed=performance_by_version(pooled) if pooled.height else None,
    )
