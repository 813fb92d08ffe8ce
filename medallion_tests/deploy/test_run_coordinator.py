"""The run queue on a new instance (deploy/dagster.yaml): of two queued runs that write the warehouse, the daemon's
first iteration picks one. Dagster's own coordinator lets both start (the pool's limit is set too late); ours sets
it before a run is queued."""

from __future__ import annotations

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from medallion.definitions import build_definitions
from medallion.deploy.instance_storage import open_instance
from medallion.deploy.run_coordinator import PoolLimitedRunCoordinator
from medallion.names import WAREHOUSE_POOL
from medallion.settings import PROJECT_DIR, Settings

DAGSTER_COORDINATOR = "module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator"
OURS = "module: medallion.deploy.run_coordinator\n  class: PoolLimitedRunCoordinator"


def runs_the_first_iteration_starts(tmp_path, coordinator: str) -> int:
    """Two etl_job runs submitted to a new instance; how many the queue daemon would start in its next iteration."""
    config = (PROJECT_DIR / "deploy" / "dagster.yaml").read_text()
    assert OURS in config
    (tmp_path / "dagster.yaml").write_text(config.replace(OURS, coordinator))
    job = build_definitions(Settings(home=tmp_path / "home")).resolve_job_def("etl_job")
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="medallion.definitions"), "medallion")
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "etl_job")
    with open_instance(str(tmp_path)) as instance:
        for day in ("2025-01-01", "2025-01-02"):
            run = instance.create_run_for_job(job, tags={"dagster/partition": day}, remote_job_origin=origin)
            assert run.run_op_concurrency.all_pools == {WAREHOUSE_POOL}
            instance.run_coordinator.submit_run(dg.SubmitRunContext(run, workspace=None))
        daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        return len(daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None))


def test_the_first_iteration_on_a_new_instance_starts_one_warehouse_run(tmp_path):
    assert runs_the_first_iteration_starts(tmp_path, OURS) == 1
    with open_instance(str(tmp_path)) as instance:
        assert isinstance(instance.run_coordinator, PoolLimitedRunCoordinator)
        assert instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1


def test_dagster_s_own_coordinator_starts_both(tmp_path):
    """Why PoolLimitedRunCoordinator exists; when this fails, Dagster enforces a new pool from its first run and the
    coordinator can go."""
    assert runs_the_first_iteration_starts(tmp_path, DAGSTER_COORDINATOR) == 2
