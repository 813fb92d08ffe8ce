"""The default run launcher (a process per run, started by the gRPC code server) with a worker health check, so
the daemon's run monitoring can mark a run failed when its process is gone.

The code server already fails a run whose process it sees die. What it cannot see is a run whose code server died
with it (killed, OOM, restarted): a new server does not know the run, and without a health check the run stays
STARTED forever. Here a STARTED run the code server does not list among its current runs is reported failed.
"""

from __future__ import annotations

from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value


class CodeServerRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run records no code server to ask")
        try:
            current = deserialize_value(client.get_current_runs(), GetCurrentRunsResult).current_runs
        except Exception as error:
            if _unavailable(error):  # the server is gone, and the process it started with it
                return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's code server does not answer: {error}")
            # Cannot tell (e.g. a proxy server without the call): say running, never fail a run on a guess.
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"cannot ask the code server: {error}")
        if run.run_id in current:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, "the run's code server has no process for it (killed, crashed or restarted)"
        )


def _unavailable(error: Exception) -> bool:
    import grpc

    cause = error.__cause__ or error
    return isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.UNAVAILABLE
