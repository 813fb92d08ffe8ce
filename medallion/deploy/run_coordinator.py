"""The queued run coordinator, with each run's pools given their limit before the run enters the queue.

Dagster 1.13 gives a pool its default limit (`concurrency: pools: default_limit`) the first time the run queue
daemon meets it, but judges that iteration's runs against the pools it knew before: on a new instance, every run
queued at that moment starts at once. Seen under `dagster dev`: the landing sensor's first two runs wrote the DuckDB
file together. A pool known before its first run is queued is enforced from that first run on.
"""

from __future__ import annotations

import dagster as dg


class PoolLimitedRunCoordinator(dg.QueuedRunCoordinator):
    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        concurrency = context.dagster_run.run_op_concurrency
        storage = self._instance.event_log_storage
        if concurrency and concurrency.all_pools and storage.supports_global_concurrency_limits:
            for pool in set(concurrency.all_pools) - storage.get_concurrency_keys():
                storage.initialize_concurrency_limit_to_default(pool)
        return super().submit_run(context)
