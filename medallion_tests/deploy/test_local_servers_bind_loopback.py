"""Every server the Makefile starts on the local profile (`make dev`, `make mlflow`, `make pg-up`) listens on 127.0.0.1
only, seen from /proc/net/tcp*, and the docs never tell a user to bind another address."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from medallion.settings import PROJECT_DIR, Settings
from medallion_tests.conftest import with_mlflow_store
from medallion_tests.servers import group_pids, listening_addresses, server

MAKE = ["make", "--no-print-directory", "-C", str(PROJECT_DIR)]
DOCS = [PROJECT_DIR / "Makefile", PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
HOST_OPTION = re.compile(r"(?<![\w-])(?:--host|-h)(?:\s+|=)([^\s`'\"|)]+)")


def environment(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MEDALLION_HOME": str(tmp_path / "home"), "DAGSTER_DISABLE_TELEMETRY": "1"}


def assert_listens_on_loopback_only(pids: set[int], port: int) -> None:
    listening = listening_addresses(pids)
    assert port in {bound_port for _, bound_port in listening}, f"nothing of {sorted(pids)} listens on {port}"
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening


def test_make_dev_listens_on_loopback_only(tmp_path, free_tcp_port):
    command = [*MAKE, "dev", f"PORT={free_tcp_port}", f"DAGSTER_HOME={tmp_path / 'dagster_home'}"]
    ready = f"http://127.0.0.1:{free_tcp_port}/server_info"
    with server(command, environment(tmp_path), ready, tmp_path / "make_dev.log") as make:
        assert_listens_on_loopback_only(group_pids(make.pid), free_tcp_port)


def test_make_mlflow_listens_on_loopback_only(tmp_path, free_tcp_port, empty_mlflow_store):
    with_mlflow_store(Settings(home=tmp_path / "home"), empty_mlflow_store)  # no schema migration at start
    command = [*MAKE, "mlflow", f"MLFLOW_PORT={free_tcp_port}"]
    ready = f"http://127.0.0.1:{free_tcp_port}/health"
    with server(command, environment(tmp_path), ready, tmp_path / "make_mlflow.log") as make:
        assert_listens_on_loopback_only(group_pids(make.pid), free_tcp_port)


def test_make_pg_up_listens_on_loopback_only(tmp_path, free_tcp_port):
    folder = Path(tempfile.mkdtemp(prefix="medallion-pg-make-"))  # outside pytest's root-only tmp, for postgres
    variables = [f"PG_DIR={folder}", f"PG_PORT={free_tcp_port}"]
    env = environment(tmp_path)
    try:
        up = subprocess.run([*MAKE, "pg-up", *variables], env=env, capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        postmaster = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert_listens_on_loopback_only({postmaster}, free_tcp_port)
    finally:
        subprocess.run([*MAKE, "pg-down", *variables], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_docs_bind_nothing_but_loopback():
    for path in DOCS:
        text = path.read_text()
        assert "0.0.0.0" not in text, f"{path.name} mentions 0.0.0.0"
        hosts = HOST_OPTION.findall(text)
        assert set(hosts) <= {"127.0.0.1"}, f"{path.name} binds {sorted(set(hosts) - {'127.0.0.1'})}"
    assert HOST_OPTION.findall((PROJECT_DIR / "Makefile").read_text()) == ["127.0.0.1", "127.0.0.1"]
