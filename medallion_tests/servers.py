"""Servers a test starts as a user does (`dagster dev`, `make dev`, `make mlflow`), each in its own process group so
it stops with everything it started, and the TCP addresses processes listen on (from /proc/net/tcp and tcp6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from medallion.settings import PROJECT_DIR
from medallion.tools.processes import answers, stop_process_group
from medallion.tools.prod_stack import ProdStack, running

BIN = PROJECT_DIR / ".venv" / "bin"


def poll(condition, what: str, timeout: float, interval: float = 0.5):
    """`condition()`'s first truthy value, polled every `interval` s; fails saying `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} after {timeout:.0f} s"
        time.sleep(interval)
    return found


def dagster_environment(dagster_home: Path, medallion_home: Path, **extra: str) -> dict[str, str]:
    """This process's environment with a new DAGSTER_HOME holding a copy of deploy/dagster.yaml."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "MEDALLION_HOME": str(medallion_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **extra,
    }


@contextmanager
def server(command: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 180.0):
    """`command` in a new process group, its output in `log`; yields the process once `ready_url` answers, then
    stops the group (SIGTERM, then SIGKILL)."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(ready_url):
            tail = log.read_text(errors="replace")[-2000:]
            assert process.poll() is None, f"{command[0]} exited with {process.returncode}: {tail}"
            assert time.monotonic() < deadline, f"{ready_url} did not answer in {timeout:.0f} s: {tail}"
            time.sleep(0.5)
        yield process
    finally:
        stop_process_group(process.pid, timeout=10.0)
        process.wait(timeout=10)


@contextmanager
def dagster_dev(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """`dagster dev -h 127.0.0.1` (webserver and daemon) from the project root, as `make dev` runs it."""
    command = [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)]
    with server(command, env, f"http://127.0.0.1:{port}/server_info", log) as process:
        yield process


@contextmanager
def prod_stack(land: Callable[[Path], object], **options) -> Iterator[ProdStack]:
    """The production profile on free ports under a new home whose landing zone `land` fills, as `make prod-up` starts
    it (ProdStack options: workers, days_per_run); stopped and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="medallion-prod-"))
    home.chmod(0o755)  # the postgres user runs the server under it
    land(home / "landing")
    try:
        with running(home, **options) as stack:
            yield stack
    finally:
        shutil.rmtree(home, ignore_errors=True)


def group_pids(pgid: int) -> set[int]:
    """The processes of a process group, from /proc/<pid>/stat."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid:
            found.add(int(stat.parent.name))
    return found


def socket_inodes(pids: set[int]) -> set[int]:
    """The inodes of the sockets the processes hold open (a process or descriptor may vanish while we look)."""
    inodes = set()
    for pid in pids:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except (FileNotFoundError, ProcessLookupError):
            continue
        for descriptor in descriptors:
            try:
                link = os.readlink(descriptor)
            except (FileNotFoundError, ProcessLookupError):
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[len("socket:[") : -1]))
    return inodes


def listening_addresses(pids: set[int] | None = None) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket on this machine, or only those the processes `pids` hold."""
    inodes = None if pids is None else socket_inodes(pids)
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A" or (inodes is not None and inode not in inodes):  # 0A: LISTEN
                continue
            address, port = local.split(":")
            if len(address) == 8 or address.startswith("0000000000000000FFFF0000"):  # IPv4, or IPv4-mapped IPv6
                ip = ".".join(str(int(address[-8:][i : i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                ip = "::1" if address == "00000000000000000000000001000000" else f"ipv6:{address}"
            found.add((ip, int(port, 16)))
    return found
