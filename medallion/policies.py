"""What every asset of a layer shares, in one table, applied once.

Spec attributes (group, `layer` tag, kinds, freshness, the IO manager's partition column) are mapped over a
dataset's assets by `apply_layer_policies`. Op attributes (partitions, backfill policy, pool) can only be given
when an asset is declared, so the factories take them from `op_policy`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from medallion.names import BRONZE, GOLD, ML, SERVING, SILVER, WAREHOUSE_POOL
from medallion.settings import current_settings

PARTITION_COLUMN = "partition_date"
ETL_KINDS = frozenset({"duckdb", "polars"})
# Gold is built daily for the day before; a day and a half without a new materialization means the chain stalled.
GOLD_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=36), warn_window=timedelta(hours=26))


@dataclass(frozen=True)
class LayerPolicy:
    kinds: frozenset[str]  # used where an asset declares none of its own
    # A ranged run is one step over its days, not a run per day; a backfill is one run, or runs of
    # MEDALLION_RUN_DAYS days each (see ranged_backfill_policy).
    single_run_backfill: bool
    freshness: dg.FreshnessPolicy | None = None


LAYER_POLICIES = {
    BRONZE: LayerPolicy(ETL_KINDS, single_run_backfill=True),
    SILVER: LayerPolicy(ETL_KINDS, single_run_backfill=True),
    GOLD: LayerPolicy(ETL_KINDS, single_run_backfill=True, freshness=GOLD_FRESHNESS),
    # Training and monitoring are per day; predictions opt in to ranged backfills (op_policy).
    ML: LayerPolicy(ETL_KINDS, single_run_backfill=False),
    # Serving assets name their targets' kinds; a ranged inference run loads its days in one transaction per target.
    SERVING: LayerPolicy(frozenset(), single_run_backfill=True),
}


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """The one partitions definition every table shares: a calendar day (UTC), named by its date, up to today or
    to MEDALLION_END_DATE (e.g. the demo's last day, so no day shows missing that has no data to come)."""
    return _daily_partitions(start, current_settings().end_date)


@functools.cache
def _daily_partitions(start: date, end: date | None) -> dg.DailyPartitionsDefinition:
    last = None if end is None else (end + timedelta(days=1)).isoformat()  # end_date is exclusive
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_date=last, timezone="UTC")


def op_policy(layer: str, start: date, single_run_backfill: bool | None = None) -> dict:
    """Keyword arguments for `@dg.asset` / `@dg.multi_asset`: every asset is daily and writes the warehouse."""
    backfill = LAYER_POLICIES[layer].single_run_backfill if single_run_backfill is None else single_run_backfill
    return {
        "partitions_def": daily_partitions(start),
        "backfill_policy": ranged_backfill_policy(current_settings().days_per_run) if backfill else None,
        "pool": WAREHOUSE_POOL,
    }


def ranged_backfill_policy(days_per_run: int | None) -> dg.BackfillPolicy:
    """One run for a whole backfill (locally: `dg launch --partition-range`, `dagster job execute` and `medallion
    launch` need it), or runs of at most `days_per_run` days (prod: the Celery workers take them at once)."""
    if days_per_run is None:
        return dg.BackfillPolicy.single_run()
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=days_per_run)


def _with_layer_policy(spec: dg.AssetSpec, layers: Mapping[str, str]) -> dg.AssetSpec:
    layer = layers.get(spec.key.path[0], spec.key.path[0])
    policy = LAYER_POLICIES[layer]
    spec = spec.replace_attributes(
        group_name=layer,
        kinds=set(spec.kinds or policy.kinds),
        freshness_policy=spec.freshness_policy or policy.freshness,
    )
    return spec.merge_attributes(tags={"layer": layer}, metadata={"partition_expr": PARTITION_COLUMN})


def apply_layer_policies(
    defs: dg.Definitions, layers: Mapping[str, str] | None = None, owners: tuple[str, ...] = ()
) -> dg.Definitions:
    """Group = layer = tag `layer`, the layer's kinds and freshness, the partition column the IO manager uses, and
    the dataset's owners.

    An asset's layer is its key's first part, or what `layers` maps that part to (a dataset's ML schema → `ml`)."""
    with_policy = defs.map_resolved_asset_specs(func=functools.partial(_with_layer_policy, layers=layers or {}))
    if not owners:
        return with_policy
    return with_policy.map_resolved_asset_specs(func=lambda spec: spec.replace_attributes(owners=list(owners)))
