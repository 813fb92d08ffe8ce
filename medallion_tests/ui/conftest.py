"""The UIs as a user starts them (`dagster dev` and `mlflow ui` on 127.0.0.1 with a temporary home, through
medallion_tests/servers.py) and headless Chromium: Debian's, driven by Playwright, never `playwright install`."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from medallion_tests.servers import BIN, server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

requires_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)"
)


@contextmanager
def mlflow_ui(home: Path, port: int, env: dict[str, str], log: Path):
    """`make mlflow`'s command on `port`: one worker, no job runner."""
    (home / "mlflow" / "artifacts").mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "mlflow"),
        "ui",
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
        "--default-artifact-root",
        str(home / "mlflow" / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with server(command, env, f"http://127.0.0.1:{port}/health", log) as process:
        yield process
