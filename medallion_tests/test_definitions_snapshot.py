"""A snapshot of the asset graph, so that any change to keys, deps, partitions, groups, checks, jobs,
schedules or sensors shows up in review.

After an intended change, regenerate the snapshot with one command and commit the diff:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest medallion_tests/test_definitions_snapshot.py
"""

import importlib
import json
import os
from pathlib import Path

import dagster as dg
import pytest

from medallion.definitions import build_definitions

SNAPSHOT = Path(__file__).resolve().parent / "snapshots" / "asset_graph.json"
UPDATE_COMMAND = "UPDATE_SNAPSHOTS=1 .venv/bin/pytest medallion_tests/test_definitions_snapshot.py"


def _partitions(partitions_def) -> dict | None:
    if partitions_def is None:
        return None
    described = {"type": type(partitions_def).__name__}
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        described.update(
            start=partitions_def.start.strftime(partitions_def.fmt),
            timezone=partitions_def.timezone,
            cron=partitions_def.cron_schedule,
        )
    return described


def graph_snapshot(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(parent.to_user_string() for parent in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "checks": sorted(check.name for check in node.check_keys),
        }
    repository = defs.get_repository_def()
    jobs = {}
    for name in sorted(n for n in repository.job_names if not n.startswith("__")):
        job_graph = repository.get_job(name).asset_layer.asset_graph
        jobs[name] = {
            "assets": sorted(k.to_user_string() for k in job_graph.executable_asset_keys),
            "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in job_graph.asset_check_keys),
        }
    return {
        "assets": assets,
        "jobs": jobs,
        "schedules": {
            s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
            for s in repository.schedule_defs
        },
        "sensors": {s.name: {"job": s.job_name if s.targets else None} for s in repository.sensor_defs},
    }


def render(snapshot: dict) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


@pytest.fixture
def current(tmp_path) -> str:
    if os.environ.get("MEDALLION_START_DATE", "2025-01-01") != "2025-01-01":
        pytest.skip("the snapshot is taken with the default partitions start (MEDALLION_START_DATE unset)")
    return render(graph_snapshot(build_definitions()))


def test_asset_graph_matches_the_snapshot(current):
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
        return
    assert SNAPSHOT.exists(), f"no snapshot at {SNAPSHOT}; create it with: {UPDATE_COMMAND}"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert current == expected, (
        f"the asset graph differs from {SNAPSHOT.name}. If the change is intended, regenerate the snapshot with "
        f"`{UPDATE_COMMAND}` and commit it. Changed entries: {_changed(json.loads(expected), json.loads(current))}"
    )


def _changed(expected: dict, current: dict) -> list[str]:
    changed = []
    for section in sorted(set(expected) | set(current)):
        old, new = expected.get(section, {}), current.get(section, {})
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changed.append(
                    f"{section}/{name}: {'added' if name not in old else 'removed' if name not in new else 'changed'}"
                )
    return changed


def test_etl_assets_carry_their_layer_as_group_and_tag():
    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        layer = key.path[0]
        if layer in ("bronze", "silver", "gold"):
            node = graph.get(key)
            assert node.group_name == layer, key
            assert node.tags.get("layer") == layer, key


def test_the_code_location_loads_and_resolves_every_job():
    module = importlib.import_module("medallion.definitions")
    defs = module.defs()
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)
    repository = defs.get_repository_def()
    assert {"etl_job", "freshness_check_job"} <= set(repository.job_names)
    for name in repository.job_names:
        assert repository.get_job(name).name == name
