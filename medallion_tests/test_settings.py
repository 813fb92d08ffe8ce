"""Settings: every knob read from the environment in one place, a wrong value named at load, environment → resources."""

import ast
import re
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from medallion.definitions import build_definitions
from medallion.resources.environments import resources_for
from medallion.settings import PACKAGE_DIR, PROJECT_DIR, Settings, SettingsError

README = PROJECT_DIR / "README.md"
PROD_SERVICES = {
    "MEDALLION_LAKE_CATALOG_URL": "postgresql://lake:pw@127.0.0.1:5433/catalog",
    "MEDALLION_DAGSTER_PG_URL": "postgresql://dagster:pw@127.0.0.1:5433/dagster",
    "MEDALLION_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
}


def test_defaults_with_nothing_set():
    settings = Settings.from_env({})
    assert settings == Settings(home=(PROJECT_DIR / "data").resolve())
    assert (settings.env, settings.start_date, settings.retrain_min_days) == ("local", date(2025, 1, 1), 7)
    assert not settings.mlflow_server and not settings.alert_webhook


def test_every_variable_is_read(tmp_path):
    settings = Settings.from_env(
        {
            "MEDALLION_HOME": str(tmp_path),
            "MEDALLION_ENV": "prod",
            "MEDALLION_START_DATE": "2024-06-01",
            "MEDALLION_END_DATE": "2024-12-31",
            "MEDALLION_RETRAIN_MIN_DAYS": "0",
            "MEDALLION_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
            "MEDALLION_ALERT_WEBHOOK_URL": "http://127.0.0.1:9000/hook",
            "MEDALLION_SERVING_TARGETS": "postgres,delta",
            "MEDALLION_PG_URL": "postgresql://app:pw@127.0.0.1:5433/serving",
            "MEDALLION_DELTA_URI": str(tmp_path / "served"),
            "MEDALLION_LAKE_CATALOG_URL": "postgresql://lake:pw@127.0.0.1:5433/catalog",
            "MEDALLION_LAKE_DATA_PATH": str(tmp_path / "lake-files"),
            "MEDALLION_DAGSTER_PG_URL": "postgresql://dagster:pw@127.0.0.1:5433/dagster",
            "MEDALLION_MLFLOW_UI_URL": "https://mlflow.example.org/",
            "MEDALLION_DAGSTER_UI_URL": "http://127.0.0.1:3001/dagster",
            "MEDALLION_RUN_DAYS": "14",
            "MEDALLION_SLICE_ROWS": "100_000",
            "MEDALLION_WAREHOUSE_MEMORY": "1GB",
        }
    )
    assert settings == Settings(
        home=tmp_path,
        env="prod",
        start_date=date(2024, 6, 1),
        end_date=date(2024, 12, 31),
        retrain_min_days=0,
        mlflow_server=True,
        alert_webhook=True,
        serving_targets=("postgres", "delta"),
        pg_url=True,
        delta_uri=str(tmp_path / "served"),
        lake_catalog=True,
        lake_data_path=str(tmp_path / "lake-files"),
        dagster_pg=True,
        mlflow_ui_url="https://mlflow.example.org",
        dagster_ui_url="http://127.0.0.1:3001/dagster",
        days_per_run=14,
        slice_rows=100_000,
        warehouse_memory="1GB",
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MEDALLION_ENV", "staging", "MEDALLION_ENV='staging' is not allowed; use one of local, prod"),
        ("MEDALLION_START_DATE", "01/02/2025", "MEDALLION_START_DATE='01/02/2025' is not a date; use YYYY-MM-DD"),
        ("MEDALLION_RETRAIN_MIN_DAYS", "seven", "MEDALLION_RETRAIN_MIN_DAYS='seven' must be a whole number of days"),
        ("MEDALLION_RETRAIN_MIN_DAYS", "-1", "MEDALLION_RETRAIN_MIN_DAYS must be 0 or more, got -1"),
        ("MEDALLION_MODEL_NAME", "loans", "MEDALLION_MODEL_NAME is no longer read: each dataset names its registered"),
        ("MEDALLION_END_DATE", "2024-12-31", "MEDALLION_END_DATE=2024-12-31 is before MEDALLION_START_DATE=2025-01-01"),
        ("MEDALLION_MLFLOW_UI_URL", "127.0.0.1:5000", "MEDALLION_MLFLOW_UI_URL='127.0.0.1:5000' is not a web address"),
        ("MEDALLION_DAGSTER_UI_URL", "ftp://host", "MEDALLION_DAGSTER_UI_URL='ftp://host' is not a web address"),
        ("MEDALLION_RUN_DAYS", "a week", "MEDALLION_RUN_DAYS='a week' is not allowed; use a whole number of days"),
        ("MEDALLION_SLICE_ROWS", "250k", "MEDALLION_SLICE_ROWS='250k' must be a whole number of rows (1+)"),
        ("MEDALLION_SLICE_ROWS", "0", "MEDALLION_SLICE_ROWS=0 must be a whole number of rows, 1 or more"),
        ("MEDALLION_WAREHOUSE_MEMORY", "lots", "MEDALLION_WAREHOUSE_MEMORY='lots' is not a size; use a number and"),
        (
            "MEDALLION_RUN_DAYS",
            "0",
            "MEDALLION_RUN_DAYS=0 is not allowed; use a whole number of days per backfill run, 1",
        ),
    ],
)
def test_a_wrong_value_names_the_variable_and_what_is_allowed(variable, value, message):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({variable: value})
    assert message in str(error.value)


def test_a_wrong_value_fails_the_definitions_at_load(monkeypatch):
    monkeypatch.setenv("MEDALLION_ENV", "staging")
    with pytest.raises(SettingsError, match="MEDALLION_ENV"):
        build_definitions()


def test_prod_without_its_services_names_every_missing_variable_in_one_message(tmp_path):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(
            {"MEDALLION_HOME": str(tmp_path), "MEDALLION_ENV": "prod", "MEDALLION_SERVING_TARGETS": "postgres"}
        )
    message = str(error.value)
    for variable in (
        "MEDALLION_PG_URL",
        "MEDALLION_DAGSTER_PG_URL",
        "MEDALLION_LAKE_CATALOG_URL",
        "MEDALLION_MLFLOW_TRACKING_URI",
    ):
        assert variable in message


def test_backfills_are_one_run_locally_and_runs_of_30_days_in_prod_unless_set():
    prod = {"MEDALLION_ENV": "prod", **PROD_SERVICES}
    assert Settings.from_env({}).days_per_run is None
    assert Settings.from_env({"MEDALLION_RUN_DAYS": "7"}).days_per_run == 7
    assert Settings.from_env(prod).days_per_run == 30
    assert Settings.from_env({**prod, "MEDALLION_RUN_DAYS": "all"}).days_per_run is None


@pytest.mark.parametrize(("days_per_run", "expected"), [(None, dg.BackfillPolicy.single_run()), (7, None)])
def test_the_ranged_assets_take_their_backfill_policy_from_the_days_per_run(tmp_path, days_per_run, expected):
    graph = build_definitions(Settings(home=tmp_path, days_per_run=days_per_run)).resolve_asset_graph()
    policies = {key.to_user_string(): graph.get(key).backfill_policy for key in graph.get_all_asset_keys()}
    ranged = expected or dg.BackfillPolicy.multi_run(max_partitions_per_run=7)
    for key in ("bronze/applications", "silver/applications", "gold/labels", "ml/predictions", "serving/predictions"):
        assert policies[key] == ranged, key
    assert policies["ml/training_set"] is None  # a run per day


def test_the_start_date_is_the_first_partition_of_every_asset(tmp_path):
    defs = build_definitions(Settings(home=tmp_path, start_date=date(2024, 6, 1)))
    graph = defs.resolve_asset_graph()
    starts = {graph.get(key).partitions_def.start.date() for key in graph.get_all_asset_keys()}
    assert starts == {date(2024, 6, 1)}
    assert defs.resolve_job_def("etl_job").partitions_def.get_first_partition_key() == "2024-06-01"


def test_the_end_date_is_the_last_partition_of_every_asset_and_check(tmp_path):
    defs = build_definitions(Settings(home=tmp_path, end_date=date(2025, 5, 30)))
    graph = defs.resolve_asset_graph()
    lasts = {graph.get(key).partitions_def.get_last_partition_key() for key in graph.get_all_asset_keys()}
    assert lasts == {"2025-05-30"}
    check_partitions = {graph.get(key).partitions_def for key in graph.asset_check_keys}
    assert {p.get_last_partition_key() for p in check_partitions if p is not None} == {"2025-05-30"}


def test_local_resources_live_under_home(tmp_path):
    resources = resources_for(Settings(home=tmp_path))
    assert resources["warehouse"].location.database == str(tmp_path / "warehouse.duckdb")
    assert resources["landing"].root == str(tmp_path / "landing")
    assert resources["mlflow"].tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert resources["mlflow"].registered_model_name is None  # each dataset's assets address their own model
    assert resources["alerting"].webhook_url is None
    assert (resources["mlflow"].ui_url, resources["mlflow"].dagster_ui_url) == (
        "http://127.0.0.1:5000",
        "http://127.0.0.1:3000",
    )


def test_urls_reach_the_resources_as_environment_variables_not_values(tmp_path, monkeypatch):
    uri = "postgresql://mlflow:s3cret@127.0.0.1:5432/mlflow"
    monkeypatch.setenv("MEDALLION_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path))
    mlflow = resources_for(Settings.from_env())["mlflow"]
    assert isinstance(mlflow.tracking_uri, dg.EnvVar) and "s3cret" not in repr(mlflow)
    assert mlflow.process_config_and_initialize().tracking_uri == uri


def _reads_the_environment(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv")
            and getattr(node.value, "id", "") == "os"
        ):
            lines.append(node.lineno)
    return lines


def test_settings_is_the_only_module_that_reads_the_environment():
    readers = {
        str(path.relative_to(PROJECT_DIR)): lines
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if (lines := _reads_the_environment(path)) and path.name != "settings.py"
    }
    assert readers == {}


def test_every_variable_the_code_reads_is_in_the_readme_configuration_table():
    source = (PACKAGE_DIR / "settings.py").read_text(encoding="utf-8")
    variables = {name for name in _string_constants(source) if re.fullmatch(r"MEDALLION_[A-Z_]+", name)}
    assert {"MEDALLION_HOME", "MEDALLION_ENV", "MEDALLION_START_DATE", "MEDALLION_RETRAIN_MIN_DAYS"} <= variables
    table = README.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    assert {v for v in variables if f"`{v}`" not in table} == set()


def _string_constants(source: str) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
