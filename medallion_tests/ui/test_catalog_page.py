"""The Dagster UI, started the way `make dev` starts it, renders the asset catalog in headless Chromium."""

import subprocess

from medallion_tests.ui.conftest import CHROMIUM, dagster_dev, environment, requires_chromium

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


@requires_chromium
def test_asset_catalog_renders_every_layer(services, tmp_path):
    assert CHROMIUM, "chromium must be installed for this test (.ci/run installs it)"
    ui = dagster_dev(environment(tmp_path / "dagster_home", tmp_path / "home"), tmp_path / "dagster.log")
    services.append(ui)
    dom = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chrome'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{ui.url}/assets",
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
