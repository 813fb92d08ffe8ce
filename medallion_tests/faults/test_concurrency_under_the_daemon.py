"""Under `dagster dev` (webserver + daemon, deploy/dagster.yaml): the landing sensor's runs, a 30-day backfill of
the ETL and a training run, all queued at once through the webserver's GraphQL API. The warehouse pool lets one of
them write the DuckDB file at a time: every run succeeds, none meets a lock, and the tables equal a clean run's.

The sensor ticks once, on the first two days' files, and is then switched off before the other days land, so the
number of runs is known: each costs 10-20 s of process start on this machine, one after the other."""

from __future__ import annotations

import functools
import json
import re
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from dagster._serdes import serialize_value
from dagster_graphql import DagsterGraphQLClient

from medallion.deploy.instance_storage import open_instance
from medallion.settings import Settings
from medallion.sources.generate import generate
from medallion_tests.conftest import with_mlflow_store
from medallion_tests.faults.conftest import clean_home, feed_rows, run, tables
from medallion_tests.servers import dagster_dev, dagster_environment, poll

START = date(2025, 1, 1)
APPLICATION_DAYS, DELAY, ROWS_PER_DAY = 28, 2, 200
DAYS = [START + timedelta(days=i) for i in range(APPLICATION_DAYS + DELAY)]  # the 30 days files land on
SENSOR_DAYS = DAYS[:2]
LOCATION = {"repositoryLocationName": "medallion", "repositoryName": "__repository__"}
TRAINING_CONFIG = {"ops": {"ml__model": {"config": {"candidates": ["logistic_regression"], "auc_floor": 0.5}}}}
LOCK_ERROR = re.compile(r"\block\b|could not set lock|held by another process", re.IGNORECASE)
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

START_SENSOR = """mutation($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) { __typename ... on Sensor { id } ... on PythonError { message } }
}"""
STOP_SENSOR = """mutation($id: String!) {
  stopSensor(id: $id) {
    __typename ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message }
  }
}"""
LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message }
  }
}"""
RUNS = """query($filter: RunsFilter) {
  runsOrError(filter: $filter) { ... on Runs { results { runId status jobName startTime endTime tags { key value } } } }
}"""


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


def runs(port: int, **tags: str) -> list[dict]:
    """The runs with these tags (`dagster__backfill` for `dagster/backfill`), or all runs."""
    selected = [{"key": key.replace("__", "/"), "value": value} for key, value in tags.items()]
    return graphql(port, RUNS, {"filter": {"tags": selected}})["runsOrError"]["results"]


wait_for = functools.partial(poll, timeout=300.0, interval=1.0)


def deliver(staged: Path, home: Settings, days: list[date]) -> None:
    """Moves the staged day folders into the landing zone, as a delivery does (a rename keeps the files' mtimes)."""
    for folder in sorted(staged.glob("*/*")):
        if date.fromisoformat(folder.name) in days:
            (home.landing_dir / folder.parent.name).mkdir(parents=True, exist_ok=True)
            folder.rename(home.landing_dir / folder.parent.name / folder.name)


def test_sensor_runs_a_30_day_backfill_and_training_launched_together_succeed_one_writer_at_a_time_no_lock(
    tmp_path, free_tcp_port, empty_mlflow_store
):
    staged = tmp_path / "staged"
    generate(staged, START, APPLICATION_DAYS, ROWS_PER_DAY, faults=0.05, seed=9, label_delay_days=DELAY)
    home = Settings(home=tmp_path / "home", env="local")
    with_mlflow_store(home, empty_mlflow_store)
    deliver(staged, home, SENSOR_DAYS)
    env = dagster_environment(tmp_path / "dagster_home", home.home)
    log = tmp_path / "dagster_dev.log"
    with dagster_dev(env, free_tcp_port, log):
        port = free_tcp_port
        sensor = {**LOCATION, "sensorName": "landing_sensor"}
        started = graphql(port, START_SENSOR, {"selector": sensor})["startSensor"]
        assert started["__typename"] == "Sensor", started
        wait_for(lambda: len(runs(port, dagster__sensor_name="landing_sensor")) == 2, "the sensor made no 2 runs")
        stopped = graphql(port, STOP_SENSOR, {"id": started["id"]})["stopSensor"]
        assert stopped.get("instigationState") == {"status": "STOPPED"}, stopped
        deliver(staged, home, DAYS)
        partition_set = {"partitionSetName": "etl_job_partition_set", "repositorySelector": LOCATION}
        backfill = graphql(
            port,
            LAUNCH_BACKFILL,
            {"params": {"selector": partition_set, "partitionNames": [day.isoformat() for day in DAYS]}},
        )["launchPartitionBackfill"]
        assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
        # Training reads what the backfill writes, so it is queued after the backfill's run (the queue is first in,
        # first out); the daemon creates that run, then queues it a few seconds later.
        wait_for(
            lambda: any(r["status"] != "NOT_STARTED" for r in runs(port, dagster__backfill=backfill["backfillId"])),
            "the backfill queued no run",
        )
        DagsterGraphQLClient("127.0.0.1", port_number=port).submit_job_execution(
            "training_job",
            repository_location_name="medallion",
            run_config=TRAINING_CONFIG,
            tags={"dagster/partition": DAYS[-1].isoformat()},
        )
        clean = clean_home(home, tmp_path / "clean")  # the reference, built while the daemon works
        assert run(clean, DAYS[0], DAYS[-1]).success
        all_runs = wait_for(
            lambda: len(found := runs(port)) >= 4 and {r["status"] for r in found} <= FINISHED and found,
            "runs still queued or running",
            timeout=600,
        )
    assert sorted(r["jobName"] for r in all_runs) == ["etl_job"] * 3 + ["training_job"]
    assert {r["status"] for r in all_runs} == {"SUCCESS"}, [(r["jobName"], r["status"]) for r in all_runs]
    by_start = sorted(all_runs, key=lambda r: r["startTime"])
    for earlier, later in zip(by_start, by_start[1:], strict=False):  # the pool: one warehouse writer at a time
        assert earlier["endTime"] <= later["startTime"], (earlier, later)
    with open_instance(str(tmp_path / "dagster_home")) as instance:
        for found in all_runs:
            for entry in instance.all_logs(found["runId"]):
                assert not LOCK_ERROR.search(serialize_value(entry)), entry
    assert not LOCK_ERROR.search(log.read_text(errors="replace"))
    assert tables(home) == tables(clean)
    for day in DAYS[:APPLICATION_DAYS]:  # every landed line is in silver or in the quarantine, once
        landed = sum(len(path.read_text().splitlines()) - 1 for path in home.landing_dir.glob(f"applications/{day}/*"))
        bronze, silver, quarantine = feed_rows(home, "applications", day)
        assert bronze.height == silver.height + quarantine.height == landed
