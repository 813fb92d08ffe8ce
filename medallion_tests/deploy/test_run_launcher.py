"""The run launcher's health check for a run its code server still lists.

Seen on the production profile (PostgreSQL killed under an etl_job backfill): the run's process exited, the code
server's cleanup thread died on the unreachable storage and never cleared the run, so GetCurrentRuns listed it for
good and run monitoring left it STARTED (10 minutes after PostgreSQL was back, until the code server was restarted).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent
from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import serialize_value

from medallion.deploy.run_launcher import CodeServerRunLauncher


class ListingCodeServer:
    """A code server that lists the given runs as current, whatever became of their processes."""

    def __init__(self, run_ids: list[str]):
        self.run_ids = run_ids

    def get_current_runs(self) -> str:
        return serialize_value(GetCurrentRunsResult(current_runs=self.run_ids, serializable_error_info=None))


def gone_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def code_server_port():
    """A port this process listens on, standing in for a code server whose process is visible here."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def started_run(instance, pid: int, grpc_info: dict) -> tuple[CodeServerRunLauncher, DagsterRun]:
    run = instance.add_run(
        DagsterRun(job_name="etl_job", status=DagsterRunStatus.STARTING, tags={GRPC_INFO_TAG: json.dumps(grpc_info)})
    )
    instance.report_dagster_event(
        DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name="etl_job", pid=pid), run_id=run.run_id
    )
    launcher = CodeServerRunLauncher()
    launcher.register_instance(instance)
    launcher._get_grpc_client_for_termination = lambda run_id: ListingCodeServer([run.run_id])
    return launcher, instance.get_run_by_id(run.run_id)


def test_a_listed_run_whose_process_is_gone_is_failed_naming_the_pid(instance, code_server_port):
    pid = gone_pid()
    launcher, run = started_run(instance, pid, {"host": "127.0.0.1", "port": code_server_port})
    health = launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED
    assert f"pid {pid}" in health.msg and "still lists the run" in health.msg


def test_a_listed_run_whose_process_is_alive_is_running(instance, code_server_port):
    launcher, run = started_run(instance, os.getpid(), {"host": "127.0.0.1", "port": code_server_port})
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_listed_run_on_a_code_server_of_another_machine_is_trusted_to_its_server(instance):
    launcher, run = started_run(instance, gone_pid(), {"host": "code-server.internal", "port": 4266})
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_listed_run_whose_code_server_process_is_not_visible_here_is_trusted_to_its_server(instance):
    """Loopback, but no process seen holding the port: e.g. a sidecar in its own PID namespace, whose run processes
    this one cannot see either; their absence here says nothing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unheld = probe.getsockname()[1]
    launcher, run = started_run(instance, gone_pid(), {"host": "127.0.0.1", "port": unheld})
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
