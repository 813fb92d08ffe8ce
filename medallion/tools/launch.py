"""Run a job for a day range in this process, recorded as a run of the project's code location.

`dg launch` and `dagster job execute` record runs without a code location, so the UI's Jobs pages, the run
timeline and the job's Runs tab never list them. A run recorded with the location's origin (the name
`workspace.yaml` gives it, as `dagster dev` loads it) is listed there like one launched from the UI, while it
still runs here, without a daemon or a code server.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from medallion.settings import PROJECT_DIR

DEFINITIONS_MODULE = "medallion.definitions"
REPOSITORY_NAME = "__repository__"  # what Dagster calls the repository of a module's Definitions
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class Launched:
    run_id: str
    status: str
    days: str


def location_name(workspace: Path = PROJECT_DIR / "workspace.yaml") -> str:
    """The code location name `dagster dev` gives the project, read from workspace.yaml."""
    for entry in yaml.safe_load(workspace.read_text())["load_from"]:
        module = entry.get("python_module", {})
        if module.get("module_name") == DEFINITIONS_MODULE:
            return module.get("location_name", DEFINITIONS_MODULE)
    raise ValueError(f"{workspace}: no python_module entry loads {DEFINITIONS_MODULE}")


def launch(job_name: str, first: date, last: date, tags: dict[str, str] | None = None) -> Launched:
    """Runs `job_name` over the days `first`..`last` (one ranged run; single-run backfill assets take them in one
    step) in the instance of DAGSTER_HOME, and returns how it ended."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import execute_run
    from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from medallion.deploy.run_launcher import HOST_TAG

    if last < first:
        raise ValueError(f"the range {first}...{last} ends before it starts")
    target = LoadableTargetOrigin(
        executable_path=sys.executable, module_name=DEFINITIONS_MODULE, working_directory=str(PROJECT_DIR)
    )
    code_location = ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name())
    recon_job = ReconstructableRepository.for_module(
        DEFINITIONS_MODULE, "defs", working_directory=str(PROJECT_DIR)
    ).get_reconstructable_job(job_name)
    job_def = recon_job.get_definition()
    instance = dg.DagsterInstance.get()
    run = instance.create_run_for_job(
        job_def=job_def,
        tags={
            **job_def.run_tags,
            RANGE_START_TAG: first.isoformat(),
            RANGE_END_TAG: last.isoformat(),
            HOST_TAG: socket.gethostname(),  # the daemon's run monitoring judges the run by this process
            **(tags or {}),
        },
        remote_job_origin=RemoteRepositoryOrigin(code_location, REPOSITORY_NAME).get_job_origin(job_name),
        job_code_origin=recon_job.get_python_origin(),
    )
    execute_run(recon_job, run, instance)
    finished = instance.get_run_by_id(run.run_id)
    days = first.isoformat() if first == last else f"{first}...{last}"
    return Launched(run.run_id, finished.status.value, days)
