"""Faults of the MLflow tracking store: one that refuses connections (a real closed port) or cannot be opened fails
the step naming MEDALLION_MLFLOW_TRACKING_URI and the URL without its password, after MLflow's bounded retries
(settings.MLFLOW_HTTP_BUDGET), and nothing is scored, loaded, trained or promoted. Only the registry's answer "no such
model or alias" means no champion."""

import socket
from dataclasses import replace
from datetime import timedelta

import dagster as dg
import duckdb
import pytest

from medallion.definitions import build_definitions
from medallion.resources.mlflow_tracking import MlflowStoreError, MlflowTracking
from medallion.settings import MLFLOW_TRACKING_URI_VAR, Settings
from medallion.tools.cli import main as medallion_cli
from medallion_tests.conftest import DAY1, mlflow_of
from medallion_tests.ml.conftest import AS_OF, new_world, predict, train

PASSWORD = "s3cret-Pa55"
SCORED_DAY = DAY1 + timedelta(days=2)


def refused_port() -> int:
    """A port nothing listens on: bound to learn a free one, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, reference, empty_mlflow_store):
    """A home with its ETL done, a champion in its local store and one day scored; and a Dagster instance."""
    home, defs = new_world(tmp_path_factory, reference, empty_mlflow_store)
    with dg.instance_for_test() as instance:
        assert train(defs, instance).success
        assert predict(defs, instance, SCORED_DAY, SCORED_DAY).success
        yield home, instance


@pytest.fixture
def unreachable(trained, monkeypatch):
    """The trained home's definitions with MEDALLION_MLFLOW_TRACKING_URI at a refused port, credentials in the URL;
    yields (home, definitions, instance, the URL as the message must show it)."""
    home, instance = trained
    port = refused_port()
    monkeypatch.setenv(MLFLOW_TRACKING_URI_VAR, f"http://reader:{PASSWORD}@127.0.0.1:{port}")
    defs = build_definitions(replace(home, mlflow_server=True))
    yield home, defs, instance, f"http://***@127.0.0.1:{port}"


def warehouse_state(home: Settings) -> dict[str, list[tuple]]:
    """Every row of every ml and serving table."""
    with duckdb.connect(str(home.warehouse_path), read_only=True) as connection:
        names = connection.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('ml', 'serving')"
        ).fetchall()
        return {
            f"{s}.{t}": sorted(connection.execute(f'select * from "{s}"."{t}"').fetchall(), key=repr) for s, t in names
        }


def registry_state(home: Settings) -> tuple[dict[str, str], list[str]]:
    """The local store's aliases and versions of the dataset's model."""
    client = mlflow_of(home).client()
    versions = sorted(v.version for v in client.search_model_versions("name='credit_default'"))
    return client.get_registered_model("credit_default").aliases, versions


def failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """The message of each failed step, by step key."""
    found = {}
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            found[event.step_key] = (error.cause or error).message
    return found


def assert_names_the_store(message: str, shown_url: str) -> None:
    assert f"MLflow tracking store {shown_url} ({MLFLOW_TRACKING_URI_VAR}) could not be used" in message
    assert "Connection refused" in message


def test_inference_fails_naming_the_setting_and_scores_nothing(unreachable):
    home, defs, instance, shown_url = unreachable
    before = warehouse_state(home)
    result = predict(defs, instance, SCORED_DAY + timedelta(days=1), SCORED_DAY + timedelta(days=1))
    assert not result.success
    failed = failures(result)
    assert list(failed) == ["ml__predictions"]
    assert_names_the_store(failed["ml__predictions"], shown_url)
    assert PASSWORD not in repr(result.all_events)
    assert not [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]  # no "skipped: no champion"
    assert not result.get_asset_materialization_events()
    assert warehouse_state(home) == before


def test_evaluation_fails_and_moves_no_alias(unreachable):
    home, defs, instance, shown_url = unreachable
    before, registry_before = warehouse_state(home), registry_state(home)
    result = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        partition_key=AS_OF.isoformat(),
        asset_selection=[dg.AssetKey(["ml", "model_evaluation"])],
        raise_on_error=False,
    )
    failed = failures(result)
    assert list(failed) == ["ml__model_evaluation"]
    assert_names_the_store(failed["ml__model_evaluation"], shown_url)
    assert PASSWORD not in repr(result.all_events)
    assert registry_state(home) == registry_before
    assert warehouse_state(home) == before


def test_training_fails_before_it_fits_anything(unreachable):
    home, defs, instance, shown_url = unreachable
    before = warehouse_state(home)
    result = defs.resolve_job_def("training_job").execute_in_process(
        instance=instance,
        partition_key=AS_OF.isoformat(),
        asset_selection=[dg.AssetKey(["ml", "model"])],
        raise_on_error=False,
    )
    failed = failures(result)
    assert list(failed) == ["ml__model"]
    assert_names_the_store(failed["ml__model"], shown_url)
    assert warehouse_state(home) == before


def test_monitoring_fails_naming_the_setting(unreachable):
    home, defs, instance, shown_url = unreachable
    before = warehouse_state(home)
    decisions = sorted(home.decisions_dir.glob("**/*")) if home.decisions_dir.exists() else []
    result = defs.resolve_job_def("monitoring_job").execute_in_process(
        instance=instance, partition_key=AS_OF.isoformat(), raise_on_error=False
    )
    failed = failures(result)
    assert list(failed) == ["ml__monitoring"]
    assert_names_the_store(failed["ml__monitoring"], shown_url)
    assert warehouse_state(home) == before
    assert (sorted(home.decisions_dir.glob("**/*")) if home.decisions_dir.exists() else []) == decisions


def test_score_command_fails_naming_the_setting_and_writes_nothing(unreachable, tmp_path, capsys):
    home, _, _, shown_url = unreachable
    landed = next((home.landing_dir / "applications" / SCORED_DAY.isoformat()).glob("*.csv"))
    output = tmp_path / "scored.parquet"
    arguments = ["score", "--dataset", "credit_default", "--input", str(landed), "--output", str(output)]
    assert medallion_cli([*arguments, "--home", str(home.home)]) == 1
    stderr = capsys.readouterr().err
    assert_names_the_store(stderr, shown_url)
    assert PASSWORD not in stderr
    assert not output.exists()


def test_a_missing_alias_or_model_on_a_real_store_is_no_champion(trained):
    home, _ = trained
    assert mlflow_of(home).version_by_alias("champion") is not None
    assert mlflow_of(home).version_by_alias("challenger") is None
    assert mlflow_of(home, "no_such_model").version_by_alias("champion") is None


def test_a_store_file_that_cannot_be_opened_is_not_no_champion(tmp_path):
    store = tmp_path / "mlflow.db"
    store.write_bytes(b"not a database " * 1000)
    tracking = MlflowTracking(tracking_uri=f"sqlite:///{store}").for_model("credit_default")
    with pytest.raises(MlflowStoreError, match=f"MLflow tracking store sqlite:///{store} .* could not be used"):
        tracking.version_by_alias("champion")
