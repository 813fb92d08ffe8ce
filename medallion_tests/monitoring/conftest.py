"""Helpers: hand-made ml.monitoring partitions, and running the decision asset of the real definitions on them."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import polars as pl

from medallion.logic.monitoring.measures import MEASUREMENT_SCHEMA
from medallion.names import RETRAIN_DECISION
from medallion.settings import Settings


def measurement_rows(
    day: date,
    *,
    champion: str | None = "1",
    holdout_auc: float | None = 0.80,
    live_auc: float | None = None,
    matured: int = 0,
    predictions: int = 0,
    prediction_psi: float | None = None,
    feature_psi: dict[str, float] | None = None,
) -> pl.DataFrame:
    rows = [{"kind": "champion", "subject": "holdout_auc", "model_version": champion, "value": holdout_auc}]
    if predictions:
        rows.append({"kind": "predictions", "subject": "count", "model_version": champion, "n": predictions})
    if live_auc is not None:
        rows.append(
            {"kind": "performance", "subject": "roc_auc", "model_version": champion, "value": live_auc, "n": matured}
        )
    if prediction_psi is not None:
        rows.append(
            {
                "kind": "prediction_psi",
                "subject": "probability",
                "model_version": champion,
                "value": prediction_psi,
                "n": predictions,
            }
        )
    rows += [
        {"kind": "feature_psi", "subject": f, "model_version": champion, "value": v}
        for f, v in (feature_psi or {}).items()
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            k: t for k, t in MEASUREMENT_SCHEMA.items() if k not in ("partition_date", "window_start", "window_end")
        },
    )
    return frame.select(
        pl.lit(day).alias("partition_date"),
        pl.lit(day - timedelta(days=6)).alias("window_start"),
        pl.lit(day).alias("window_end"),
        pl.all(),
    )


def write_monitoring(home: Settings, frame: pl.DataFrame) -> None:
    day = frame["partition_date"][0]
    home.home.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(home.warehouse_path)) as connection:
        connection.execute("create schema if not exists ml")
        connection.execute("create table if not exists ml.monitoring as select * from frame limit 0")
        connection.execute("delete from ml.monitoring where partition_date = ?", [day])
        connection.execute("insert into ml.monitoring by name select * from frame")


def run_decision(
    defs: dg.Definitions, day: date, instance: dg.DagsterInstance | None = None, rules: dict | None = None
):
    run_config = {"ops": {"ml__retrain_decision": {"config": rules}}} if rules else None
    return defs.resolve_job_def("monitoring_job").execute_in_process(
        # The decision and its checks (an asset selection would leave the checks out).
        op_selection=[
            f"{RETRAIN_DECISION.to_python_identifier()}",
            f"{RETRAIN_DECISION.to_python_identifier()}_checks",
        ],
        partition_key=str(day),
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
    )


def decision_row(home: Settings, day: date) -> dict:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        return (
            connection.execute("select * from ml.retrain_decision where partition_date = ?", [day])
            .pl()
            .row(0, named=True)
        )
