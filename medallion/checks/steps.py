"""Checks written one by one, run as one step per asset, with one result per day.

Every Dagster step costs a handful of events in the run's event log, and a day's ETL has twenty checks over seven
assets; as one step per asset they cost a quarter of that. Each check keeps its own name, severity, blocking flag,
description and result, and a single check can still run alone (the multi-check is subsettable).

The checks are partitioned like their assets and report one evaluation per day of the run, so a 150-day backfill
gives each day its own pass or fail on the check page (Dagster's `AssetCheckResult` can only speak for a run's one
partition; an `AssetCheckEvaluation` names its partition).
"""

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData as Target,
)

from medallion.checks.windows import DailyResults, run_days
from medallion.policies import daily_partitions
from medallion.resources.landing import LandingZone
from medallion.resources.warehouse import Warehouse, WarehouseSession


@dataclass(frozen=True)
class Check:
    spec: dg.AssetCheckSpec
    evaluate: Callable[..., DailyResults]  # (days, warehouse) or (days, warehouse, landing)

    def run(self, days: list[date] | None, warehouse: WarehouseSession, landing: LandingZone) -> DailyResults:
        wants_landing = len(inspect.signature(self.evaluate).parameters) == 3
        return self.evaluate(days, warehouse, landing) if wants_landing else self.evaluate(days, warehouse)

    def evaluations(self, results: DailyResults, targets: dict[str, Target]) -> list[dg.AssetCheckEvaluation]:
        return [
            dg.AssetCheckEvaluation(
                asset_key=self.spec.asset_key,
                check_name=self.spec.name,
                passed=result.passed,
                severity=result.severity,
                description=result.description,
                metadata=result.metadata,
                blocking=self.spec.blocking,
                partition=day.isoformat(),
                target_materialization_data=targets.get(day.isoformat()),
            )
            for day, result in sorted(results.items())
        ]


def latest_materializations(instance: dg.DagsterInstance, asset: dg.AssetKey, days: list[str]) -> dict[str, Target]:
    """Each day's latest materialization of `asset`: the UI shows a day's check result only against the
    materialization it judged (a result without one shows the day as never checked)."""
    ids = instance.get_latest_storage_id_by_partition(asset, dg.DagsterEventType.ASSET_MATERIALIZATION, set(days))
    if not ids:
        return {}
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, storage_ids=list(ids.values())), limit=len(ids)
    ).records
    by_id = {r.storage_id: r for r in records}
    return {
        day: Target(run_id=by_id[i].event_log_entry.run_id, storage_id=i, timestamp=by_id[i].timestamp)
        for day, i in ids.items()
        if i in by_id
    }


def check(asset: dg.AssetKey, name: str, description: str, start: date, blocking: bool = False) -> Callable[..., Check]:
    """Declares a daily check like `@dg.asset_check`; `one_step_per_asset` makes the definitions."""

    def declare(evaluate: Callable[..., DailyResults]) -> Check:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned check specs are a preview in 1.13
            spec = dg.AssetCheckSpec(
                name=name,
                asset=asset,
                description=description,
                blocking=blocking,
                partitions_def=daily_partitions(start),
            )
        return Check(spec, evaluate)

    return declare


def one_step_per_asset(checks: list[Check]) -> list[dg.AssetChecksDefinition]:
    by_asset: dict[dg.AssetKey, list[Check]] = {}
    for declared in checks:
        by_asset.setdefault(declared.spec.asset_key, []).append(declared)
    return [_asset_step(key, group) for key, group in by_asset.items()]


def _asset_step(key: dg.AssetKey, checks: list[Check]) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(specs=[c.spec for c in checks], name=f"{key.to_python_identifier()}_checks", can_subset=True)
    def asset_checks(context: dg.AssetCheckExecutionContext, warehouse: Warehouse, landing: LandingZone):
        selected = [declared for declared in checks if declared.spec.key in context.selected_asset_check_keys]
        days, outputs = run_days(context), context.op_execution_context.assets_def
        with warehouse.session() as session:
            results = [(declared, declared.run(days, session, landing)) for declared in selected]
        judged = sorted({day.isoformat() for _, by_day in results for day in by_day})
        targets = latest_materializations(context.instance, key, judged)
        for declared, by_day in results:
            yield from declared.evaluations(by_day, targets)
            # The check's output, which blocking checks gate downstream steps on; its days are reported above.
            yield dg.Output(None, output_name=outputs.get_output_name_for_asset_check_key(declared.spec.key))

    return asset_checks
