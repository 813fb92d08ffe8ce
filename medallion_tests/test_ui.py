"""The Dagster UI, started the way `make dev` starts it, renders the asset graph in headless Chromium."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The asset table renders only the rows in view: tall enough for every asset of the graph.
    "--window-size=1280,4000",
]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (CI installs it)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dagster_dev(tmp_path):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "MEDALLION_HOME": str(tmp_path / "home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError as error:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("dagster dev did not answer /server_info") from error
                time.sleep(1)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:  # dagster dev may sit on SIGTERM (STACK.md): its whole group goes
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def test_asset_catalog_renders_every_layer(dagster_dev, tmp_path):
    assert CHROMIUM, "chromium must be installed for this test (.ci/run installs it)"
    dom = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"http://127.0.0.1:{dagster_dev}/assets",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for name in (
        "bronze",
        "silver",
        "gold",
        "applications",
        "quarantine",
        "features",
        "labels",
        "predictions",
        "model_evaluation",
        "daily_summary",
    ):
        assert name in dom, f"the asset catalog page does not show {name!r}"
