"""`medallion prod-run`: a job's assets over a range of days, submitted to the production webserver as one asset
backfill with each asset's days named, then waited for to its last run.

The daemon splits the backfill by the assets' backfill policy (runs of MEDALLION_RUN_DAYS days) and orders the runs
by their dependencies: gold.labels reads up to 180 days of silver back, so its days wait for the silver days of the
runs before them. (A job page's backfill queues its runs all at once, without that order.)
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import date

from medallion.names import WORKER_TAG
from medallion.tools.prod_stack import ProdStackError

JOB = """query($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) { __typename ... on Pipeline { tags { key value } } ... on Error { message } }
  assetNodes(pipeline: $selector) { assetKey { path } isPartitioned }
}"""
LAUNCH = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message }
  }
}"""
RETRY = """mutation($params: ReexecutionParams!) {
  reexecutePartitionBackfill(reexecutionParams: $params) {
    __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message }
  }
}"""
BACKFILL = """query($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } ... on Error { message } }
}"""
RUNS = """query($filter: RunsFilter) {
  runsOrError(filter: $filter) { ... on Runs { results { runId status tags { key value } } } }
}"""
FAILURES = """query($id: ID!) {
  logsForRun(runId: $id) { ... on EventConnection { events {
    __typename ... on RunFailureEvent { message }
    ... on ExecutionStepFailureEvent { stepKey error { message causes { message } } }
  } } }
}"""
WAITING = ("REQUESTED", "CANCELING", "FAILING")
JOB_TAG = "medallion/job"  # the runs of an asset backfill belong to Dagster's hidden asset job; this names the job
FINISHED_RUN = ("SUCCESS", "FAILURE", "CANCELED")
RANGE_START, RANGE_END, PARTITION = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
    "dagster/partition",
)


class BackfillError(ProdStackError):
    """The webserver refused the backfill, or it did not finish in time; the message says which."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: str
    days: str
    worker: str | None
    failure: str | None = None


@dataclass(frozen=True)
class BackfillOutcome:
    backfill_id: str
    status: str
    runs: list[RunOutcome]

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED_SUCCESS" and all(run.status == "SUCCESS" for run in self.runs)


class Webserver:
    def __init__(self, url: str, location: str, repository: str = "__repository__"):
        self.url, self.location, self.repository = url, location, repository

    def graphql(self, query: str, variables: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise BackfillError(f"the webserver at {self.url} answered: {answer['errors']}")
        return answer["data"]

    def submit(self, job: str, first: date, last: date) -> str:
        selector = {"repositoryLocationName": self.location, "repositoryName": self.repository, "pipelineName": job}
        found = self.graphql(JOB, {"selector": selector})
        nodes, definition = found["assetNodes"], found["pipelineOrError"]
        if definition["__typename"] != "Pipeline" or not nodes:
            raise BackfillError(f"{job} is not a job of assets in code location {self.location}")
        # Each asset's days named explicitly: with a partition list alone, Dagster also targets every downstream day
        # the list reaches (gold.labels' 180-day look-back would add 180 days of labels).
        days = {"range": {"start": first.isoformat(), "end": last.isoformat()}}
        by_asset = [{"assetKey": n["assetKey"], "partitions": days if n["isPartitioned"] else None} for n in nodes]
        tags = [*definition["tags"], {"key": JOB_TAG, "value": job}]  # the job's own tags, e.g. medallion/stage
        params = {"partitionsByAssets": by_asset, "tags": tags}
        launched = self.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise BackfillError(f"{job} {first}...{last} was not launched: {launched.get('message', launched)}")
        return launched["backfillId"]

    def retry(self, backfill_id: str) -> str:
        """A new backfill of what `backfill_id` did not materialize (the UI's Re-execute from failure); its id."""
        params = {"parentRunId": backfill_id, "strategy": "FROM_FAILURE"}
        launched = self.graphql(RETRY, {"params": params})["reexecutePartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise BackfillError(f"backfill {backfill_id} was not re-executed: {launched.get('message', launched)}")
        return launched["backfillId"]

    def wait(self, backfill_id: str, timeout: float) -> BackfillOutcome:
        deadline, status = time.monotonic() + timeout, "unknown"
        while True:
            try:
                found = self.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
                status = found.get("status")
                runs = self.runs(backfill_id)
                if status not in WAITING and all(run["status"] in FINISHED_RUN for run in runs):
                    return BackfillOutcome(backfill_id, status or found.get("message", "unknown"), self._outcomes(runs))
            except (OSError, BackfillError) as error:  # the webserver or its PostgreSQL restarting: ask again
                status = f"unknown ({error})"
            if time.monotonic() > deadline:
                raise BackfillError(f"backfill {backfill_id} still {status} after {timeout:.0f} s")
            time.sleep(2.0)

    def runs(self, backfill_id: str) -> list[dict]:
        tag = {"key": "dagster/backfill", "value": backfill_id}
        return self.graphql(RUNS, {"filter": {"tags": [tag]}})["runsOrError"]["results"]

    def _outcomes(self, runs: list[dict]) -> list[RunOutcome]:
        outcomes = []
        for run in runs:
            tags = {tag["key"]: tag["value"] for tag in run["tags"]}
            days = tags.get(PARTITION) or f"{tags.get(RANGE_START)}...{tags.get(RANGE_END)}"
            failure = self._failure(run["runId"]) if run["status"] != "SUCCESS" else None
            outcomes.append(RunOutcome(run["runId"], run["status"], days, tags.get(WORKER_TAG), failure))
        return sorted(outcomes, key=lambda outcome: outcome.days)

    def _failure(self, run_id: str) -> str:
        events = self.graphql(FAILURES, {"id": run_id})["logsForRun"].get("events", [])
        steps = [f"{e['stepKey']}: {_cause(e['error'])}" for e in events if e.get("stepKey") and e.get("error")]
        runs = [e["message"] for e in events if e["__typename"] == "RunFailureEvent"]
        return " | ".join(_first_line(message) for message in (steps or runs)) or "no failure event"


def _cause(error: dict) -> str:
    """The innermost cause's message: Dagster wraps a step's exception in `Error occurred while executing op`."""
    return (error.get("causes") or [error])[-1]["message"]


def _first_line(message: str) -> str:
    return next(iter(message.strip().splitlines()), "")
