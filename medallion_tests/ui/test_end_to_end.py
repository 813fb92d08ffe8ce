"""The UIs as a user meets them, in headless Chromium: `dagster dev` and `mlflow ui` on a replayed world, an asset
backfill of the ETL and ML assets over five days launched through the webserver's GraphQL API, then the pages a
user opens: the lineage, an asset's partitions, a check's per-day results, the model and its MLflow version.

`make test-ui` runs it (CI too). With MEDALLION_UPDATE_DOC_IMAGES=1 it also refreshes the README's pictures.
"""

import os
import shutil
from pathlib import Path

import pytest

from medallion.settings import PROJECT_DIR
from medallion_tests.ui.conftest import CHROMIUM, requires_chromium
from medallion_tests.ui.stack import BACKFILL, ETL_AND_TRAINING, HISTORY_DAYS, running_stack

pytestmark = requires_chromium
DOC_IMAGES = PROJECT_DIR / "docs" / "img"
ALL_DAYS = HISTORY_DAYS + len(BACKFILL)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    with running_stack(root) as stack:
        status = stack.wait_for_backfill(stack.backfill(ETL_AND_TRAINING, BACKFILL))
        yield stack, status, root


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, world):
    """One browser session for the module, as a user's: the first-visit dialog is dismissed once."""
    stack, _, _ = world
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    # The first-visit dialog ("Join the Dagster community") comes up over whatever page is open: skip it.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    yield page
    context.close()


def visit(page, url: str, waits_for: str):
    page.goto(url)
    page.get_by_text(waits_for, exact=False).first.wait_for(timeout=60_000)
    return page


def screenshot(page, root: Path, name: str) -> None:
    path = root / f"{name}.png"
    skip = page.get_by_role("button", name="Skip")
    if skip.count() and skip.first.is_visible():
        skip.first.click()
    page.screenshot(path=path)
    if os.environ.get("MEDALLION_UPDATE_DOC_IMAGES") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOC_IMAGES / path.name)


def test_the_backfill_launched_through_the_webserver_succeeds(world):
    stack, status, _ = world
    assert status == "COMPLETED_SUCCESS", f"backfill ended {status}; see {stack.dagster_log}"
    runs = stack.runs()
    assert runs and all(run["status"] == "SUCCESS" for run in runs), runs


def test_runs_launched_from_the_command_line_are_listed_on_the_jobs_page(world, page):
    stack, _, _ = world
    [etl] = [run for run in stack.runs() if run["jobName"] == "etl_job"]  # the history, by `medallion launch`
    visit(page, f"{stack.dagster_url}/locations/medallion/jobs/etl_job/runs", etl["runId"][:8])


def test_the_lineage_shows_every_layer(world, page):
    stack, _, root = world
    visit(page, f"{stack.dagster_url}/asset-groups", "Global asset lineage")
    for group in ("bronze", "silver", "gold", "ml", "serving"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=30_000)
    screenshot(page, root, "lineage")


def test_each_backfilled_day_is_materialized_with_its_own_row_count(world, page):
    stack, _, root = world
    url = f"{stack.dagster_url}/assets/silver/applications?view=partitions"
    visit(page, url, f"Materialized ({ALL_DAYS})")
    assert "Missing (0)" in page.inner_text("body")
    screenshot(page, root, "partitions")
    day = BACKFILL[2].isoformat()
    visit(page, f"{url}&partition={day}", "rows_out")
    text = page.inner_text("body")
    assert "run_rows_in" in text and "rows_rejected" in text


def test_a_check_shows_one_result_per_day(world, page):
    stack, _, root = world
    visit(
        page,
        f"{stack.dagster_url}/assets/silver/applications?view=checks&checkDetail=rows_conserved",
        "Execution history",
    )
    page.get_by_text("Partitions", exact=True).nth(1).click()  # the check's tab; the first is the asset's
    page.get_by_text(f"Passed ({ALL_DAYS})").first.wait_for(timeout=60_000)
    assert "Missing (0)" in page.inner_text("body") and "Failed (0)" in page.inner_text("body")
    page.get_by_text(BACKFILL[-1].isoformat(), exact=True).filter(visible=True).last.click()
    page.get_by_text("unaccounted_rows").first.wait_for(timeout=30_000)
    screenshot(page, root, "checks")


def test_the_model_links_to_its_version_in_the_mlflow_ui_which_shows_champion(world, page):
    from mlflow import MlflowClient

    stack, _, root = world
    registry = MlflowClient(tracking_uri=f"sqlite:///{stack.home / 'mlflow' / 'mlflow.db'}")
    champion = registry.get_model_version_by_alias("credit_default", "champion")
    day = champion.tags["dagster.partition"]  # the ml/model partition that trained it
    visit(page, f"{stack.dagster_url}/assets/ml/model?view=partitions&partition={day}", "mlflow_model_version")
    link = page.locator("tr", has_text="mlflow_model_version").locator(f'a[href^="{stack.mlflow_url}"]').first
    assert f"/versions/{champion.version}" in link.get_attribute("href")
    with page.context.expect_page() as opened:
        link.click()
    mlflow = opened.value
    mlflow.get_by_text(f"Version {champion.version}", exact=True).first.wait_for(timeout=60_000)
    mlflow.get_by_text("champion", exact=True).first.wait_for(timeout=30_000)  # the alias tag, not prose
    screenshot(mlflow, root, "mlflow_model_version")
