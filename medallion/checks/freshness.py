"""Partition-aware freshness: yesterday's gold partition must exist by the deadline."""

from __future__ import annotations

import dagster as dg

GOLD_DEADLINE_CRON = "0 3 * * *"


def build_freshness_checks(gold_keys: list[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    # Superseded by FreshnessPolicy for whole assets, but still the only check that looks at the latest partition.
    return list(
        dg.build_time_partition_freshness_checks(assets=gold_keys, deadline_cron=GOLD_DEADLINE_CRON, timezone="UTC")
    )
