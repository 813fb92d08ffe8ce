"""The default run launcher (a process per run, started by the gRPC code server) with a worker health check, so
the daemon's run monitoring can mark a run failed when its process is gone.

The code server already fails a run whose process it sees die. What it cannot see is a run whose code server died
with it (killed, OOM, restarted): a new server does not know the run, and without a health check the run stays
STARTED forever. Here a STARTED run the code server does not list among its current runs is reported failed.

A code server may also list a run whose process is gone: it forgets a run only in a cleanup loop that ends for good
when the instance's storage cannot be reached on one of its ticks (dagster 1.13: PostgreSQL killed under a run; the
run then stayed STARTED until the code server was restarted). A listed run is therefore also judged by the process
its RUN_START event records when the code server's process is visible from here (same machine and PID namespace);
otherwise the server's word is taken.

A run executed in a terminal process (`dg launch`, `dagster job execute`, `medallion launch`) has no code server.
Run monitoring fails every STARTED run whose check says anything but RUNNING or SUCCESS (UNKNOWN included), so such
a run is judged by its own process instead: the pid its RUN_START event records, on the machine it runs on.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value

# The machine a terminal run executes on, when its launch path records it (`medallion launch` does).
HOST_TAG = "medallion/host"
# A process that started this long after the run's RUN_START is another one that took the pid over. Generous: the
# two times come from the wall clock, which may be stepped forward while a run lasts.
PID_REUSE_MARGIN_SECONDS = 60.0


class CodeServerRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:
            return terminal_process_health(self._instance, run)
        try:
            current = deserialize_value(client.get_current_runs(), GetCurrentRunsResult).current_runs
        except Exception as error:
            if _unavailable(error):  # the server is gone, and the process it started with it
                return CheckRunHealthResult(WorkerStatus.FAILED, f"the run's code server does not answer: {error}")
            # Cannot tell (e.g. a proxy server without the call): say running, never fail a run on a guess.
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"cannot ask the code server: {error}")
        if run.run_id in current:
            return self._listed_run_health(run)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, "the run's code server has no process for it (killed, crashed or restarted)"
        )

    def _listed_run_health(self, run: DagsterRun) -> CheckRunHealthResult:
        start = recorded_start(self._instance, run)
        if start is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no pid recorded for its process")
        pid, started = start
        if _process_alive_since(pid, started) or not _code_server_visible_here(run):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the process that ran it (pid {pid} on {socket.gethostname()}) is gone, though its code server still "
            "lists the run (the server stops clearing ended runs after its storage was unreachable: restart the code "
            "server, `make prod-down && make prod-up`)",
        )


def recorded_start(instance: dg.DagsterInstance, run: DagsterRun) -> tuple[int, float] | None:
    """(pid, time) of the process that wrote the run's RUN_START event, if recorded."""
    starts = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1, ascending=False
    ).records
    if not starts or starts[0].event_log_entry.dagster_event.pid is None:
        return None
    entry = starts[0].event_log_entry
    return entry.dagster_event.pid, entry.timestamp


def terminal_process_health(instance: dg.DagsterInstance, run: DagsterRun) -> CheckRunHealthResult:
    """A run executed in a terminal process, judged by that process."""
    # Anything but RUNNING fails the run: a health this launcher cannot judge is reported RUNNING. A run without
    # a host tag runs here when the instance is SQLite files, which only processes of this machine write.
    host = run.tags.get(HOST_TAG)
    if host is None and not isinstance(instance.run_storage, SqliteRunStorage):
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server, and the machine of its process unknown")
    if host is not None and host != socket.gethostname():
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"runs on {host}, whose processes cannot be seen here")
    start = recorded_start(instance, run)
    if start is None:
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server, and no pid recorded for its process")
    pid, started = start
    if _process_alive_since(pid, started):
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"its process (pid {pid}) is alive")
    return CheckRunHealthResult(
        WorkerStatus.FAILED,
        f"the process that ran it (pid {pid} on {socket.gethostname()}) is gone (killed or crashed)",
    )


def _code_server_visible_here(run: DagsterRun) -> bool:
    """The run's code server is a process this one sees (same machine and PID namespace), so a missing run process is
    gone, not hidden: a visible process holds the server's listening socket. Anything else (another host, a sidecar
    in its own PID namespace, no procfs, no permission) is not seen, and the server's word is taken."""
    try:
        grpc_info = json.loads(run.tags.get(GRPC_INFO_TAG, "{}"))
    except ValueError:
        return False
    if grpc_info.get("socket"):
        inodes = _socket_inodes("unix", lambda fields: len(fields) > 7 and fields[7] == grpc_info["socket"], 6)
    elif grpc_info.get("host") in LOOPBACK_HOSTS and grpc_info.get("port"):
        port = f"{int(grpc_info['port']):04X}"

        def listening(fields: list[str]) -> bool:  # /proc/net/tcp: local address as hex ip:port, state 0A = LISTEN
            return fields[1].rsplit(":", 1)[-1] == port and fields[3] == "0A"

        inodes = _socket_inodes("tcp", listening, 9) | _socket_inodes("tcp6", listening, 9)
    else:
        return False
    return bool(inodes) and _held_by_visible_process(inodes)


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _socket_inodes(table: str, matches, inode_field: int) -> set[str]:
    try:
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {fields[inode_field] for fields in map(str.split, lines) if len(fields) > inode_field and matches(fields)}


def _held_by_visible_process(inodes: set[str]) -> bool:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in wanted for fd in fd_dir.iterdir()):
                return True
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return False


def _process_alive_since(pid: int, moment: float) -> bool:
    """Process `pid` of this machine is alive (not a zombie) and started before `moment` (else the pid was reused)."""
    if not Path("/proc/self/stat").exists():  # no procfs (macOS): a live pid is taken for the run's process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name may hold ')'
    except (FileNotFoundError, ProcessLookupError):
        return False
    state, start_ticks = fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
    started = _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")
    return state not in ("Z", "X") and started <= moment + PID_REUSE_MARGIN_SECONDS


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")


def _unavailable(error: Exception) -> bool:
    import grpc

    cause = error.__cause__ or error
    return isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.UNAVAILABLE
