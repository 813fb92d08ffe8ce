"""One production-profile stack for the session (`make test-prod`): PostgreSQL, Redis, the MLflow server, the code
server, the webserver, two Celery workers and the daemon, each its own process group on 127.0.0.1, over 18 landed
days of applications whose outcomes land 2 days later (20 days to backfill)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

import dagster as dg
import polars as pl
import pytest

from medallion.resources.environments import resources_for
from medallion.settings import Settings
from medallion.sources.generate import generate
from medallion.tools.prod_stack import ProdStack
from medallion_tests.faults.conftest import COMPARED
from medallion_tests.servers import prod_stack

START = date(2025, 1, 1)
APPLICATION_DAYS, ROWS_PER_DAY, DELAY = 18, 100, 2
LAST_DAY = START + timedelta(days=APPLICATION_DAYS + DELAY - 1)  # the last outcomes: 20 days in all
DAYS_PER_RUN = 10


def land(landing: Path, seed: int) -> None:
    """The landing zone holds exactly the synthetic days of `seed` (another seed: a redelivery of every day)."""
    shutil.rmtree(landing, ignore_errors=True)
    generate(landing, START, APPLICATION_DAYS, ROWS_PER_DAY, label_delay_days=DELAY, seed=seed)


@pytest.fixture(scope="session")
def stack() -> Iterator[ProdStack]:
    with prod_stack(lambda landing: land(landing, seed=3), workers=2, days_per_run=DAYS_PER_RUN) as stack:
        yield stack


@contextmanager
def stack_environment(stack: ProdStack) -> Iterator[None]:
    with mock.patch.dict(os.environ, stack.environment()):
        yield


@contextmanager
def instance_of(stack: ProdStack) -> Iterator[dg.DagsterInstance]:
    with stack_environment(stack), dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        yield instance


def lake_tables(stack: ProdStack, day: date | None = None) -> dict[str, list[tuple]]:
    """The compared tables of the lake (of one day), rows sorted, as medallion_tests.faults.conftest.tables reads a
    local warehouse."""
    with stack_environment(stack):
        warehouse = resources_for(Settings.from_env())["warehouse"].process_config_and_initialize()
        found = {}
        for name in COMPARED:
            where = f"where partition_date = '{day.isoformat()}'" if day else ""
            frame = warehouse.query(f"select * from {name} {where}")
            frame = frame.with_columns(pl.col(pl.String).str.replace(str(stack.home), "<home>", literal=True))
            found[name] = sorted(frame.rows(), key=repr)
    return found
