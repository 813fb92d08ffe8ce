"""Checks written one by one, run as one step per asset.

Every Dagster step costs a handful of events in the run's event log, and a day's ETL has twenty checks over seven
assets; as one step per asset they cost a quarter of that. Each check keeps its own name, severity, blocking flag,
description and result, so the UI and the asset-check pages show them as before, and a single check can still run
alone (the multi-check is subsettable).
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from medallion.resources.landing import LandingZone
from medallion.resources.warehouse import Warehouse, WarehouseSession


@dataclass(frozen=True)
class Check:
    spec: dg.AssetCheckSpec
    evaluate: Callable[..., dg.AssetCheckResult]  # (context, warehouse) or (context, warehouse, landing)

    def run(self, context, warehouse: WarehouseSession, landing: LandingZone) -> dg.AssetCheckResult:
        wants_landing = len(inspect.signature(self.evaluate).parameters) == 3
        result = self.evaluate(context, warehouse, landing) if wants_landing else self.evaluate(context, warehouse)
        return dg.AssetCheckResult(
            asset_key=self.spec.asset_key,
            check_name=self.spec.name,
            passed=result.passed,
            severity=result.severity,
            description=result.description,
            metadata=result.metadata,
        )


def check(asset: dg.AssetKey, name: str, description: str, blocking: bool = False) -> Callable[..., Check]:
    """Declares a check like `@dg.asset_check`; `one_step_per_asset` turns the declared checks into definitions."""

    def declare(evaluate: Callable[..., dg.AssetCheckResult]) -> Check:
        return Check(dg.AssetCheckSpec(name=name, asset=asset, description=description, blocking=blocking), evaluate)

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
        with warehouse.session() as session:
            results = [declared.run(context, session, landing) for declared in selected]
        yield from results

    return asset_checks
