"""The Dagster UI, started the way `make dev` starts it, renders the asset graph in headless Chromium."""

import os
import shutil
import subprocess

import pytest

from medallion_tests.servers import dagster_dev, dagster_environment

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


@pytest.fixture
def dagster_dev_port(tmp_path, free_tcp_port):
    env = dagster_environment(tmp_path / "dagster_home", tmp_path / "home")
    with dagster_dev(env, free_tcp_port, tmp_path / "dagster_dev.log"):
        yield free_tcp_port


def test_asset_catalog_renders_every_layer(dagster_dev_port, tmp_path):
    assert CHROMIUM, "chromium must be installed for this test (.ci/run installs it)"
    dom = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"http://127.0.0.1:{dagster_dev_port}/assets",
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
