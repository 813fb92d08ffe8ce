"""Whether each recent promotion held on the labelled rows that came after it (issue 22, finding 5), as a check of the
weekly monitoring asset: monitoring is where matured labels are judged, and it runs every week, so each promotion is
re-checked as its later rows mature. The judgement is medallion/logic/ml/promotion_followup.py; this reads its inputs
(ml.model_evaluation, the versions and their tags from the MLflow registry, gold's labelled rows) and reports it."""

import warnings
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from medallion.checks.windows import WARN, run_window, table
from medallion.contract import Contract
from medallion.logic.ml.model_tags import ModelTags, ModelTagsError
from medallion.logic.ml.promotion_followup import (
    FOLLOW_UP_DAYS,
    RECORD_COLUMNS,
    FollowUp,
    Promotion,
    follow_up,
    later_rows,
    not_scored,
    promotions_to_follow,
    summarize,
    too_few_rows,
)
from medallion.ml_settings import MlSettings
from medallion.names import PROMOTIONS_HELD
from medallion.policies import daily_partitions
from medallion.resources.mlflow_tracking import NOT_FOUND, MlflowTracking
from medallion.resources.warehouse import Warehouse


def build_promotion_checks(contract: Contract, ml: MlSettings, start: date) -> list[dg.AssetChecksDefinition]:
    names = ml.names
    schema, evaluation_table = names.schema, "model_evaluation"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks are a preview in 1.13

        @dg.asset_check(
            asset=names.monitoring,
            name=PROMOTIONS_HELD,
            partitions_def=daily_partitions(start),
            blocking=False,
            description=f"Each promotion over a champion evaluated in the {FOLLOW_UP_DAYS} days up to D, re-checked on "
            "the labelled gold rows of the application days after every day either version used (labels known on "
            "D): both versions from the MLflow registry score them, and the realised AUC gain with its 95 % DeLong "
            "interval stands beside the gain the promotion claimed and its selection-adjusted estimate. Held (interval "
            "above 0), not confirmed (covers 0) or reversed (below 0): a reversal is a warning, never blocking; too "
            "few later rows pass and say so.",
        )
        def promotions_held(
            context: dg.AssetCheckExecutionContext, warehouse: Warehouse, mlflow: MlflowTracking
        ) -> dg.AssetCheckResult:
            window = run_window(context)
            day = window[1] if window else datetime.now(UTC).date()
            evaluations = (
                warehouse.query(
                    f"select * from {schema}.{evaluation_table} where partition_date <= ? order by partition_date",
                    [day],
                ).to_dicts()
                if warehouse.table_exists(schema, evaluation_table)
                else []
            )
            followups = follow_up_promotions(
                promotions_to_follow(evaluations, day), day, contract, warehouse, mlflow.for_model(names.model_name)
            )
            summary = summarize(followups, day)
            latest = followups[-1] if followups else None
            return dg.AssetCheckResult(
                passed=summary.passed,
                severity=WARN,
                description=summary.description,
                metadata={
                    "promotions_followed": len(followups),
                    **{verdict.replace(" ", "_"): n for verdict, n in summary.counts.items()},
                    "promotions": table([f.record() for f in followups], RECORD_COLUMNS),
                    **(_latest(latest) if latest else {}),
                },
            )

    return [promotions_held]


def _latest(f: FollowUp) -> dict:
    p = f.promotion
    return {
        "latest_version": p.version,
        "latest_over": p.champion_version,
        "latest_verdict": f.verdict,
        "latest_claimed_gain": p.claimed,
        "latest_selection_adjusted_gain": p.adjusted if p.adjusted is not None else "n/a",
        "latest_realised_gain": f.realised if f.realised is not None else "n/a",
        "latest_realised_ci": f"[{f.realised_low:+.4f}, {f.realised_high:+.4f}]" if f.realised is not None else "n/a",
        "latest_rows": f.rows,
        "latest_days": f.days or "none",
    }


def follow_up_promotions(
    promotions: list[Promotion], day: date, contract: Contract, warehouse: Warehouse, mlflow: MlflowTracking
) -> list[FollowUp]:
    """Each promotion's follow-up: both versions' tags and models from the registry, the later rows from gold (read
    once per feature set, from the earliest day any promotion needs)."""
    from mlflow.exceptions import MlflowException

    from medallion.assets.ml_training import read_training_set
    from medallion.logic.ml.training import feature_matrix

    client, served = mlflow.client(), {}

    def used_until(version: str) -> ModelTags:
        return ModelTags.from_mlflow(client.get_model_version(mlflow.model_name, version).tags, version)

    def served_of(version: str):
        if version not in served:
            served[version] = mlflow.load_served(version)
        return served[version]

    judged: dict[Promotion, FollowUp] = {}
    pairs: dict[Promotion, tuple[ModelTags, ModelTags]] = {}
    for promotion in promotions:
        try:
            pairs[promotion] = (used_until(promotion.version), used_until(promotion.champion_version))
        except ModelTagsError as error:
            judged[promotion] = not_scored(promotion, f"a version's tags cannot be read: {error}")
        except MlflowException as error:  # the store's answer; an unusable store raised MlflowStoreError instead
            if error.error_code != NOT_FOUND:
                raise
            judged[promotion] = not_scored(promotion, f"a version is no longer in the registry: {error.message}")
    firsts: dict[str, date] = {}
    for new, old in pairs.values():
        first = min(new.holdout_end, old.holdout_end)
        firsts[new.feature_set_version] = min(first, firsts.get(new.feature_set_version, first))
    frames = {
        feature_set: read_training_set(warehouse, contract, feature_set, (first, day))[0]
        for feature_set, first in firsts.items()
        if first < day
    }
    for promotion, (new_tags, old_tags) in pairs.items():
        frame = frames.get(
            new_tags.feature_set_version, pl.DataFrame({"application_date": []}, {"application_date": pl.Date})
        )
        rows, days = later_rows(frame, [new_tags.holdout_end, old_tags.holdout_end], day)
        y = rows[contract.label].cast(pl.Int64).to_numpy() if rows.height else []
        too_few = too_few_rows(promotion, y, days)
        if too_few is not None:
            judged[promotion] = too_few
            continue
        new, old = served_of(promotion.version), served_of(promotion.champion_version)
        missing = [name for name in old.feature_names if name not in rows.columns]
        if missing:
            judged[promotion] = not_scored(
                promotion, f"the later rows lack v{promotion.champion_version}'s columns {', '.join(missing[:5])}"
            )
            continue
        judged[promotion] = follow_up(
            promotion,
            y,
            new.pipeline.predict_proba(feature_matrix(rows, new.feature_names))[:, 1],
            old.pipeline.predict_proba(feature_matrix(rows, old.feature_names))[:, 1],
            days,
        )
    return [judged[promotion] for promotion in promotions]
