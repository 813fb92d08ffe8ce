"""A small, real world for the ML tests: 20 days of reference rows landed and ETL'd, outcomes 3 days later."""

import shutil
from datetime import date, timedelta

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import (  # noqa: F401  (mlflow_of and with_mlflow_store are imported from here)
    DAY1,
    land_outcomes,
    land_reference_rows,
    mlflow_of,
    run_etl,
    with_mlflow_store,
)

APP_DAYS, ROWS_PER_DAY, DELAY = 20, 300, 3
LAST_APP_DAY = DAY1 + timedelta(days=APP_DAYS - 1)
AS_OF = LAST_APP_DAY + timedelta(days=DELAY)
FAST = {"ops": {"ml__model": {"config": {"candidates": ["logistic_regression"], "auc_floor": 0.6}}}}


def build_world(home: Settings, reference) -> dg.Definitions:
    for i in range(APP_DAYS):
        day = DAY1 + timedelta(days=i)
        part = land_reference_rows(home, reference, day, i * ROWS_PER_DAY, ROWS_PER_DAY)
        land_outcomes(home, part, day + timedelta(days=DELAY), name=f"outcomes_{day}.csv", applied=day)
    defs = build_definitions(home)
    assert run_etl(defs, DAY1, AS_OF).success
    return defs


def train(defs: dg.Definitions, instance: dg.DagsterInstance, day: date = AS_OF, run_config: dict | None = None):
    return defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        partition_key=day.isoformat(),
        run_config=FAST if run_config is None else run_config,
        raise_on_error=False,
    )


def predict(defs: dg.Definitions, instance: dg.DagsterInstance, first: date, last: date):
    tags = {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
    return defs.resolve_job_def("inference_job").execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def new_world(tmp_path_factory, reference, mlflow_store) -> tuple[Settings, dg.Definitions]:
    """A new home on a copy of the empty MLflow store, its days landed and run through the ETL."""
    home = Settings(home=tmp_path_factory.mktemp("home"), env="local")
    with_mlflow_store(home, mlflow_store)
    return home, build_world(home, reference)


@pytest.fixture(scope="session")
def world(tmp_path_factory, reference, empty_mlflow_store):
    home, defs = new_world(tmp_path_factory, reference, empty_mlflow_store)
    with dg.instance_for_test() as instance:
        yield home, defs, instance


@pytest.fixture
def fresh_world(world, tmp_path, empty_mlflow_store):
    """The session's ETL'd warehouse and landing files with an empty MLflow store and Dagster instance."""
    source, _, _ = world
    home = Settings(home=tmp_path / "home", env="local")
    shutil.copytree(source.landing_dir, home.landing_dir)
    shutil.copy(source.warehouse_path, home.warehouse_path)
    with_mlflow_store(home, empty_mlflow_store)
    with dg.instance_for_test() as instance:
        yield home, build_definitions(home), instance
