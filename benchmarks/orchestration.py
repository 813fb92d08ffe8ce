"""What Dagster costs on top of the ETL: a year backfilled as one run, importing the code location, a small launch.

Only the standard library is imported at module level: the measured processes import what they measure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DAGSTER_YAML = PROJECT_DIR / "deploy" / "dagster.yaml"
DAGSTER_PROD_YAML = PROJECT_DIR / "deploy" / "dagster.prod.yaml"


def dagster_home(path: Path, instance_yaml: Path = DAGSTER_YAML) -> Path:
    """A fresh DAGSTER_HOME holding the project's deploy/dagster.yaml, as `make install` prepares ./.dagster."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(instance_yaml, path / "dagster.yaml")
    return path


def backfill(
    home: str, instance_dir: str, first: date, days: int, event_batch_size: int, prod_env: dict | None = None
) -> dict:
    """`etl_job` for `days` days from `first` as ONE run (the single-run backfill `dg launch --partition-range`
    starts), in process, on a sqlite instance with the project's dagster.yaml; with `prod_env`, on the production
    profile instead (MEDALLION_ENV=prod: DuckLake warehouse, PostgreSQL instance storage, deploy/dagster.prod.yaml).

    `assets_compute_s` sums the `seconds` the assets report in their materializations (per step the largest,
    since the silver multi-asset reports cumulative seconds for its three outputs); `steps_s` sums every step's
    start-to-end time from the event log (assets with their IO manager reads and writes, and the check steps);
    what the wall time holds beyond the steps is the run's own orchestration and event-log writes. `event_log_s` is
    the time spent storing events (every step's and the run's), measured around the storage's write calls."""
    # Set explicitly, so the project's own default (medallion.settings) does not decide which variant this is.
    os.environ["DAGSTER_EVENT_BATCH_SIZE"] = str(event_batch_size)
    os.environ.update(prod_env or {})
    import dagster as dg

    from medallion.definitions import build_definitions
    from medallion.settings import Settings

    started = time.perf_counter()
    defs = build_definitions(Settings.from_env() if prod_env else Settings(home=Path(home)))
    job = defs.resolve_job_def("etl_job")
    loaded = time.perf_counter()
    last = first + timedelta(days=days - 1)
    tags = {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)}
    instance_yaml = DAGSTER_PROD_YAML if prod_env else DAGSTER_YAML
    from medallion.deploy.instance_storage import open_instance

    instance = open_instance(dagster_home(Path(instance_dir), instance_yaml))
    event_log = _time_event_log_writes(instance)
    try:
        run_started = time.perf_counter()
        result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
        wall = time.perf_counter() - run_started
        compute: dict[str, float] = {}
        for event in result.get_asset_materialization_events():
            metadata = event.step_materialization_data.materialization.metadata
            seconds = metadata.get("run_seconds") or metadata.get("seconds")
            if seconds is not None:
                compute[event.step_key] = max(compute.get(event.step_key, 0.0), float(seconds.value))
        logs = instance.all_logs(result.run_id)
        starts, ends = {}, {}
        for entry in logs:
            kind = entry.dagster_event_type
            if kind is None or entry.step_key is None:
                continue
            if kind == dg.DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                ends[entry.step_key] = entry.timestamp
        steps = {k: ends[k] - starts[k] for k in starts if k in ends}
        asset_steps = sum(v for k, v in steps.items() if k in compute)
    finally:
        instance.dispose()
    assets_compute = sum(compute.values())
    return {
        "seconds": wall,
        "success": result.success,
        "load_definitions_s": round(loaded - started, 2),
        "assets_compute_s": round(assets_compute, 2),
        "asset_steps_s": round(asset_steps, 2),
        "check_steps_s": round(sum(steps.values()) - asset_steps, 2),
        "outside_steps_s": round(wall - sum(steps.values()), 2),
        "outside_compute_share": round((wall - assets_compute) / wall, 3),
        "event_log_s": round(event_log["seconds"], 2),
        "event_log_share": round(event_log["seconds"] / wall, 3),
        "steps": len(steps),
        "events": len(logs),
    }


def _time_event_log_writes(instance) -> dict:
    """Wraps the instance's event-log writes (`store_event`, `store_event_batch`) with a clock: the seconds the run
    spent storing its events, whatever the storage. Only the outermost call counts (a batch may store one by one)."""
    storage, spent = instance.event_log_storage, {"seconds": 0.0, "depth": 0}

    def timed(method):
        def wrapper(*args, **kwargs):
            spent["depth"] += 1
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent["depth"] -= 1
                if spent["depth"] == 0:
                    spent["seconds"] += time.perf_counter() - started

        return wrapper

    storage.store_event = timed(storage.store_event)
    storage.store_event_batch = timed(storage.store_event_batch)
    return spent


def import_seconds(home: str, repeats: int = 3, module: str = "medallion.definitions") -> dict:
    """`python -c "import <module>"` in fresh interpreters; the best of `repeats`."""
    import resource

    env = {**os.environ, "MEDALLION_HOME": home, "DAGSTER_DISABLE_TELEMETRY": "1"}
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env, cwd=PROJECT_DIR)
        times.append(time.perf_counter() - started)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": min(times),
        "cpu_s": round((children.ru_utime + children.ru_stime) / repeats, 2),  # mean over the interpreters
        "peak_rss_mb": children.ru_maxrss / 1024,
        "all_s": [round(t, 2) for t in times],
    }


LOAD_SCRIPT = """
import json, resource, time
started = time.perf_counter()
import medallion.definitions as module
imported = time.perf_counter()
repository = module.defs().get_repository_def()
jobs = repository.get_all_jobs()
assets = repository.asset_graph.get_all_asset_keys()
loaded = time.perf_counter()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import_s": imported - started, "load_s": loaded - imported, "jobs": len(jobs),
                  "assets": len(assets), "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def code_location_load(home: str, repeats: int = 3) -> dict:
    """Import medallion.definitions and build the repository from `defs()` (what `dg`, `dagster dev` and every run
    do before anything else), in fresh interpreters; the best of `repeats` by total."""
    env = {**os.environ, "MEDALLION_HOME": home, "DAGSTER_DISABLE_TELEMETRY": "1"}
    results = []
    for _ in range(repeats):
        completed = subprocess.run(
            [sys.executable, "-c", LOAD_SCRIPT], check=True, env=env, cwd=PROJECT_DIR, capture_output=True, text=True
        )
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    best = min(results, key=lambda r: r["import_s"] + r["load_s"])
    return {
        "seconds": best["import_s"] + best["load_s"],
        "cpu_s": round(best["cpu_s"], 2),
        "import_s": round(best["import_s"], 2),
        "load_s": round(best["load_s"], 2),
        "jobs": best["jobs"],
        "assets": best["assets"],
        "peak_rss_mb": best["peak_rss_mb"],
    }


def create_instance(instance_dir: str) -> dict:
    """Opens the instance in `instance_dir` once, which creates its databases, as a first `dagster dev` would."""
    from medallion.deploy.instance_storage import open_instance

    started = time.perf_counter()
    with open_instance(instance_dir):
        pass
    return {"seconds": time.perf_counter() - started}


def run_breakdown(instance_dir: str) -> dict:
    """Where the latest run of the instance spent its time, from its event log: `run_s` from the run's first event to
    its last, `steps_s` the steps' start-to-end time summed, and the three slowest steps. What a launch takes beyond
    `run_s` is the process start, the imports and loading the definitions."""
    import dagster as dg

    from medallion.deploy.instance_storage import open_instance

    with open_instance(instance_dir) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            return {}
        logs = instance.all_logs(runs[0].run_id)
    starts, steps = {}, {}
    for entry in logs:
        if entry.step_key is None or entry.dagster_event_type is None:
            continue
        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.dagster_event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            steps[entry.step_key] = entry.timestamp - starts.get(entry.step_key, entry.timestamp)
    slowest = sorted(steps.items(), key=lambda item: -item[1])[:3]
    return {
        "run_s": round(logs[-1].timestamp - logs[0].timestamp, 2) if logs else None,
        "steps_s": round(sum(steps.values()), 2),
        "slowest_steps": ", ".join(f"{key}={seconds:.1f}" for key, seconds in slowest),
        "run_events": len(logs),
    }
