"""The user's own tools, run as the user runs them (subprocesses from the project root) on a temporary
MEDALLION_HOME and DAGSTER_HOME: `dagster job execute`, `dg launch --partition / --partition-range`, `dg check defs`,
`dg list components / defs`."""

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from medallion.deploy.instance_storage import open_instance
from medallion.settings import Settings
from medallion_tests.conftest import DAY1, land_outcomes, land_reference_rows

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
DAY2 = DAY1 + timedelta(days=1)
ROWS = 25


@pytest.fixture(scope="module")
def tools(tmp_path_factory, reference):
    base = tmp_path_factory.mktemp("tools")
    home = Settings(home=base / "home", env="local")
    dagster_home = base / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
    first = land_reference_rows(home, reference, DAY1, 0, ROWS, name=f"applications_{DAY1}.csv")
    land_reference_rows(home, reference, DAY2, ROWS, ROWS, name=f"applications_{DAY2}.csv")
    land_outcomes(home, first, DAY2, name=f"outcomes_{DAY1}.csv")  # a one-day label delay
    env = {
        **os.environ,
        "MEDALLION_HOME": str(home.home),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "VIRTUAL_ENV": str(ROOT / ".venv"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return home, dagster_home, env


@pytest.fixture(scope="module")
def check_defs(tools):
    """`dg check defs` touches no table, so it runs alongside the other tools' tests (it takes a few seconds)."""
    _, _, env = tools
    process = subprocess.Popen(
        [str(BIN / "dg"), "check", "defs"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def run(tools, *command: str) -> subprocess.CompletedProcess:
    _, _, env = tools
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def silver_days(home: Settings) -> dict[str, int]:
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        rows = connection.execute("select partition_date, count(*) from silver.applications group by 1").fetchall()
    return {day.isoformat(): n for day, n in rows}


def runs(dagster_home: Path) -> list[dg.DagsterRun]:
    with open_instance(str(dagster_home)) as instance:
        return list(instance.get_runs())


def test_dagster_job_execute_with_a_partition_tag(tools, check_defs):
    home, dagster_home, _ = tools
    run(
        tools,
        "dagster",
        "job",
        "execute",
        "-m",
        "medallion.definitions",
        "-j",
        "etl_job",
        "--tags",
        f'{{"dagster/partition": "{DAY2}"}}',
    )
    assert silver_days(home).get(DAY2.isoformat()) == ROWS
    latest = runs(dagster_home)[0]
    assert latest.job_name == "etl_job" and latest.status == dg.DagsterRunStatus.SUCCESS
    assert latest.tags["dagster/partition"] == DAY2.isoformat()


def test_dg_launch_one_partition(tools):
    home, dagster_home, _ = tools
    run(tools, "dg", "launch", "--job", "etl_job", "--partition", DAY1.isoformat())
    assert silver_days(home).get(DAY1.isoformat()) == ROWS
    latest = runs(dagster_home)[0]
    assert latest.status == dg.DagsterRunStatus.SUCCESS and latest.tags["dagster/partition"] == DAY1.isoformat()


def test_dg_launch_a_partition_range_is_one_run(tools):
    home, dagster_home, _ = tools
    before = {r.run_id for r in runs(dagster_home)}
    run(tools, "dg", "launch", "--job", "etl_job", "--partition-range", f"{DAY1}...{DAY2}")
    new = [r for r in runs(dagster_home) if r.run_id not in before]
    assert len(new) == 1
    [ranged] = new
    assert ranged.job_name == "etl_job" and ranged.status == dg.DagsterRunStatus.SUCCESS
    assert ranged.tags["dagster/asset_partition_range_start"] == DAY1.isoformat()
    assert ranged.tags["dagster/asset_partition_range_end"] == DAY2.isoformat()
    assert silver_days(home) == {DAY1.isoformat(): ROWS, DAY2.isoformat(): ROWS}  # rewritten, not duplicated
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        assert connection.execute("select count(*) from gold.labels").fetchone()[0] == ROWS


def test_dg_check_defs(check_defs):
    output, _ = check_defs.communicate(timeout=180)
    assert check_defs.returncode == 0, output[-3000:]
    assert "All definitions loaded successfully" in output


def test_dg_lists_the_dataset_component_and_the_project_definitions(tools):
    components = json.loads(run(tools, "dg", "list", "components", "--json").stdout)["items"]
    [dataset] = [c for c in components if c["key"] == "medallion.components.Dataset"]
    assert "contract" in dataset["summary"]
    listed = json.loads(run(tools, "dg", "list", "defs", "--json").stdout)
    assets = {a["asset_key"]: a for a in listed["assets"]}
    assert {"bronze/applications", "silver/quarantine", "gold/features", "ml/predictions"} <= set(assets)
    assert assets["bronze/applications"]["source"] == "medallion/defs/credit_default/defs.yaml:2"
    assert {j["name"] for j in listed["jobs"]} == {
        "etl_job",
        "freshness_check_job",
        "training_job",
        "inference_job",
        "monitoring_job",
    }
    assert {r["name"] for r in listed["resources"]} >= {"io_manager", "warehouse", "mlflow", "alerting"}
