"""Under `dagster dev` (webserver + daemon, deploy/dagster.yaml with run monitoring), runs executed in a terminal
process on the same instance: one that lives through many monitoring checks ends SUCCESS with no failure recorded,
one killed with SIGKILL is marked failed by the daemon with its pid named, and one tagged as running on another
machine is never failed on a guess.

The terminal runs are `dg launch` and `dagster job execute` of a job that waits for a file the test creates, so a run
lasts exactly as long as the test needs, however loaded the machine."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
from pathlib import Path

import dagster as dg

from medallion.deploy.instance_storage import open_instance
from medallion.deploy.run_launcher import HOST_TAG
from medallion_tests.servers import BIN, dagster_dev, dagster_environment, poll

JOB_FILE = """
import time
from pathlib import Path

import dagster as dg

RELEASE = Path({release!r})


@dg.op
def wait_for_release():
    deadline = time.monotonic() + 600
    while not RELEASE.exists():
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.2)


@dg.job
def waiting_job():
    wait_for_release()


defs = dg.Definitions(jobs=[waiting_job])
"""
CHECKS_WHILE_ALIVE = 3  # monitoring checks each live run must go through before the test lets it end


def start_terminal_run(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(command, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT)


wait_for = functools.partial(poll, timeout=180.0, interval=0.5)


def run_of_process(instance: dg.DagsterInstance, pid: int) -> str | None:
    """The id of the run whose RUN_START the process `pid` wrote."""
    for run in instance.get_runs():
        starts = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_START).records
        if any(start.event_log_entry.dagster_event.pid == pid for start in starts):
            return run.run_id
    return None


def checks_of(log: Path, run_id: str) -> int:
    """How many times the daemon's run monitoring has checked the run (its log line per run and iteration)."""
    return len(re.findall(rf"Checking run {run_id}\b", log.read_text(errors="replace")))


def failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return [record.event_log_entry.dagster_event.message for record in records]


def test_terminal_runs_are_judged_by_their_process_not_failed_while_alive_nor_left_started_when_killed(
    tmp_path, free_tcp_port
):
    release = tmp_path / "release"
    job_file = tmp_path / "waiting_job.py"
    job_file.write_text(JOB_FILE.format(release=str(release)))
    dagster_home = tmp_path / "dagster_home"
    env = dagster_environment(dagster_home, tmp_path / "home")
    config = dagster_home / "dagster.yaml"
    assert "poll_interval_seconds: 30" in config.read_text()
    config.write_text(config.read_text().replace("poll_interval_seconds: 30", "poll_interval_seconds: 1"))
    dev_log = tmp_path / "dagster_dev.log"
    terminal = [str(BIN / "dg"), "launch", "-f", str(job_file), "--job", "waiting_job"]
    elsewhere = [str(BIN / "dagster"), "job", "execute", "-f", str(job_file), "-j", "waiting_job"]
    elsewhere += ["--tags", f'{{"{HOST_TAG}": "another-machine"}}']
    processes = []
    try:
        with dagster_dev(env, free_tcp_port, dev_log), open_instance(dagster_home) as instance:
            processes = [
                lives := start_terminal_run(terminal, env, tmp_path / "lives.log"),
                killed := start_terminal_run(terminal, env, tmp_path / "killed.log"),
                remote := start_terminal_run(elsewhere, env, tmp_path / "remote.log"),
            ]
            lives_run, killed_run, remote_run = run_ids = [
                wait_for(lambda p=p: run_of_process(instance, p.pid), f"{p.args} started no run") for p in processes
            ]
            for process, run_id in zip(processes, run_ids, strict=True):
                wait_for(
                    lambda r=run_id: checks_of(dev_log, r) >= CHECKS_WHILE_ALIVE or failures(instance, r),
                    f"the daemon did not check run {run_id}",
                )
                assert not failures(instance, run_id), (process.args, failures(instance, run_id))
            for process in (killed, remote):
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
            remote_checks = checks_of(dev_log, remote_run)
            release.touch()
            assert lives.wait(timeout=180) == 0, (tmp_path / "lives.log").read_text(errors="replace")[-3000:]
            wait_for(
                lambda: instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE,
                "the killed run is not marked failed",
            )
            # The daemon checks every STARTED run each iteration: the remote one, too, while it failed the other.
            wait_for(
                lambda: checks_of(dev_log, remote_run) >= remote_checks + CHECKS_WHILE_ALIVE,
                "the daemon did not check the remote run",
            )
            assert instance.get_run_by_id(lives_run).status == dg.DagsterRunStatus.SUCCESS
            assert failures(instance, lives_run) == []
            assert [f"pid {killed.pid}" in message for message in failures(instance, killed_run)] == [True]
            assert instance.get_run_by_id(remote_run).status == dg.DagsterRunStatus.STARTED
            assert failures(instance, remote_run) == []
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
