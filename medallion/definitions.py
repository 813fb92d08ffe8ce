"""The code location: every definition under defs/, the resources MEDALLION_ENV names, the in-process executor."""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import dagster as dg

from medallion.resources.environments import resources_for
from medallion.settings import (
    PROJECT_DIR,
    Settings,
    SettingsError,
    active_settings,
    configuration_fingerprint,
    set_process_defaults,
)


def build_definitions(settings: Settings | None = None, project_root: Path = PROJECT_DIR) -> dg.Definitions:
    """The definitions for `settings` (default: read from the environment), as `dagster dev` and `dg` load them.

    `project_root` is the project whose defs folder is loaded; tests point it at a scaffolded one."""
    set_process_defaults()
    settings = settings or Settings.from_env()
    resources = resources_for(settings)
    with active_settings(settings), warnings.catch_warnings():
        # backfill_policy, allow_nonexistent_upstream_partitions and the partition freshness check are deliberate.
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.simplefilter("ignore", category=category)
        loaded = dg.load_from_defs_folder(project_root=project_root)
    # DuckDB admits one writer per file, so steps run in the run's own process (see deploy/dagster.yaml's pool).
    return dg.Definitions.merge(loaded, dg.Definitions(resources=resources, executor=dg.in_process_executor))


@dg.definitions
def defs() -> dg.Definitions:
    # dg and the code server load the code location several times in one process (a one-partition `dg launch`
    # called this six times, ~0.5 s each): the same environment and defs/ files give the same definitions.
    try:
        return _definitions_for(configuration_fingerprint(), _defs_files(PROJECT_DIR / "medallion" / "defs"))
    except SettingsError as error:
        # `dg launch` and `dagster job execute` print ~60 lines of traceback before the message; it goes first.
        print(f"medallion settings: {error}", file=sys.stderr, flush=True)
        raise


@functools.lru_cache(maxsize=4)
def _definitions_for(environment: tuple, defs_files: tuple) -> dg.Definitions:
    return build_definitions()


def _defs_files(folder: Path) -> tuple:
    """Each file under defs/ with its size and modification time: an edited defs.yaml or contract is loaded again."""
    return tuple(
        (str(path), stat.st_size, stat.st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (stat := path.stat())
    )
