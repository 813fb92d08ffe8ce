"""The UIs as a user starts them: `dagster dev` and `mlflow ui` on 127.0.0.1 with a temporary home, and headless
Chromium (Debian's, driven by Playwright; never `playwright install`). Every process is stopped by its group."""

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from medallion.tools.local_postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

requires_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)"
)


@dataclass
class Service:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # dagster dev may sit on SIGTERM (STACK.md): its whole group goes
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def start(command: list[str], env: dict, ready_url: str, log: Path, timeout: float = 180) -> Service:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    service = Service(process, ready_url.rsplit("/", 1)[0], log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(ready_url, timeout=2)
            return service
        except OSError as error:
            if time.monotonic() > deadline or process.poll() is not None:
                service.stop()
                raise RuntimeError(f"{command[0]} did not answer {ready_url}; see {log}") from error
            time.sleep(1)


def environment(dagster_home: Path, medallion_home: Path, **extra: str) -> dict:
    return {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "MEDALLION_HOME": str(medallion_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "VIRTUAL_ENV": str(ROOT / ".venv"),
        **extra,
    }


def dagster_dev(env: dict, log: Path) -> Service:
    """`make dev`'s command on a free port."""
    Path(env["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", Path(env["DAGSTER_HOME"]) / "dagster.yaml")
    port = free_port()
    return start(
        [str(BIN / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        env,
        f"http://127.0.0.1:{port}/server_info",
        log,
    )


def mlflow_ui(home: Path, port: int, env: dict, log: Path) -> Service:
    """`make mlflow`'s command on `port`."""
    (home / "mlflow" / "artifacts").mkdir(parents=True, exist_ok=True)
    return start(
        [
            str(BIN / "mlflow"),
            "ui",
            "--backend-store-uri",
            f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
            "--default-artifact-root",
            str(home / "mlflow" / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env,
        f"http://127.0.0.1:{port}/health",
        log,
    )


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services a test starts; all are stopped, in reverse order, whatever happens."""
    started: list[Service] = []
    yield started
    for service in reversed(started):
        service.stop()
