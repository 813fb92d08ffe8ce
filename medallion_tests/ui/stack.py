"""A small replayed world behind `dagster dev` and `mlflow ui`, and the GraphQL calls the UI test makes.

Eleven application days are replayed (outcomes one day later); the first six are ETL'd in advance (recorded as
runs of the code location), so that the five days the test backfills through the webserver have labels to train on.
"""

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from medallion.settings import PROJECT_DIR
from medallion.tools.local_postgres import free_port
from medallion_tests.servers import BIN, dagster_dev, dagster_environment
from medallion_tests.ui.conftest import mlflow_ui

FIRST_DAY = date(2025, 1, 1)
HISTORY_DAYS, BACKFILL_DAYS = 6, 5
BACKFILL = [FIRST_DAY + timedelta(days=HISTORY_DAYS + i) for i in range(BACKFILL_DAYS)]
LAST_DAY = BACKFILL[-1]
ETL_AND_TRAINING = [
    "bronze/applications",
    "bronze/outcomes",
    "silver/applications",
    "silver/outcomes",
    "silver/quarantine",
    "gold/features",
    "gold/labels",
    "ml/training_set",
    "ml/model",
    "ml/model_evaluation",
]


@dataclass
class Stack:
    dagster_url: str
    mlflow_url: str
    home: Path
    dagster_log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.dagster_url}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def backfill(self, asset_keys: list[str], days: list[date]) -> str:
        data = self.graphql(
            """mutation($params: LaunchBackfillParams!) {
                 launchPartitionBackfill(backfillParams: $params) {
                   __typename
                   ... on LaunchBackfillSuccess { backfillId }
                   ... on PythonError { message }
                   ... on InvalidSubsetError { message }
                 }
               }""",
            {
                "params": {
                    "partitionNames": [d.isoformat() for d in days],
                    "assetSelection": [{"path": key.split("/")} for key in asset_keys],
                }
            },
        )["launchPartitionBackfill"]
        if data["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill not launched: {data}")
        return data["backfillId"]

    def wait_for_backfill(self, backfill_id: str, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.graphql(
                """query($id: String!) {
                     partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } }
                   }""",
                {"id": backfill_id},
            )["partitionBackfillOrError"]["status"]
            if status not in ("REQUESTED", "CANCELING"):
                return status
            time.sleep(3)
        raise TimeoutError(f"backfill {backfill_id} still running after {timeout:.0f} s; see {self.dagster_log}")

    def runs(self) -> list[dict]:
        return self.graphql(
            """{ runsOrError { ... on Runs { results { runId jobName status tags { key value } } } } }"""
        )["runsOrError"]["results"]


@contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    home = root / "home"
    dagster_port, mlflow_port = free_port(), free_port()
    env = dagster_environment(
        root / "dagster_home",
        home,
        MEDALLION_END_DATE=LAST_DAY.isoformat(),
        MEDALLION_MLFLOW_UI_URL=f"http://127.0.0.1:{mlflow_port}",
        MEDALLION_DAGSTER_UI_URL=f"http://127.0.0.1:{dagster_port}",
    )
    days, last_history_day = HISTORY_DAYS + BACKFILL_DAYS, FIRST_DAY + timedelta(days=HISTORY_DAYS - 1)
    for command in (
        ["replay", "--start", str(FIRST_DAY), "--days", str(days), "--label-delay-days", "1"],
        ["launch", "etl_job", "--start", str(FIRST_DAY), "--end", str(last_history_day)],
    ):
        subprocess.run([str(BIN / "medallion"), *command], cwd=PROJECT_DIR, env=env, check=True, capture_output=True)
    with (
        mlflow_ui(home, mlflow_port, env, root / "mlflow.log"),
        dagster_dev(env, dagster_port, root / "dagster.log"),
    ):
        yield Stack(f"http://127.0.0.1:{dagster_port}", f"http://127.0.0.1:{mlflow_port}", home, root / "dagster.log")
