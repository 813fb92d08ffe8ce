"""A second dataset brought in by a contract alone (medallion_tests/fixtures/toy_loans.yaml), no asset edited."""

import json
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from medallion.contract import ContractError, load_contract
from medallion.definitions import build_definitions
from medallion.logic.etl.ingestion import split_fields
from medallion.settings import Settings
from medallion_tests.conftest import (
    CREDIT_CONTRACT,
    CREDIT_ML,
    DAY1,
    checks_by_name,
    land,
    land_outcomes,
    land_reference_rows,
    run_etl,
    scaffolded_project,
    table,
    table_exists,
)

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_loans.yaml"
TOY_JOB = "etl_job__toy_loans"  # its own ETL job: the plain etl_job is the dataset's under `ml.schema: ml`
TOY_TABLES = [
    "bronze.loans",
    "bronze.loan_outcomes",
    "silver.loans",
    "silver.loan_outcomes",
    "silver.loans_quarantine",
    "gold.loan_features",
    "gold.loan_labels",
]

LOANS = "loan_id,amount,term_months,region\n1,1000.5,12,north\n2, 250 ,24,\n3,-5,36,south\n4,80,36,east\n"
OUTCOMES = "loan_id,repaid,observed_on\n1,1,2025-01-01\n2,0,2025-01-01\n"


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    home = Settings(home=tmp_path_factory.mktemp("home"))
    land(home, "loans", DAY1, "loans.csv", LOANS)
    land(home, "loan_outcomes", DAY1, "loan_outcomes.csv", OUTCOMES)
    with scaffolded_project({"toy_loans": (TOY, False)}) as (root, _):
        defs = build_definitions(home, project_root=root)
        yield home, defs, run_etl(defs, DAY1, job=TOY_JOB)


def test_toy_contract_loads():
    contract = load_contract(TOY)
    assert contract.key == "loan_id" and contract.label == "repaid" and contract.label_time == "observed_on"
    assert contract.features_module is None
    assert (contract.quarantine_table, contract.features_table, contract.labels_table) == (
        "loans_quarantine",
        "loan_features",
        "loan_labels",
    )


def test_toy_definitions_have_only_the_toy_assets(toy_run):
    _, defs, _ = toy_run
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {name.replace(".", "/") for name in TOY_TABLES}


def test_toy_etl_run_succeeds_and_conserves_rows(toy_run):
    home, _, result = toy_run
    assert result.success
    checks = checks_by_name(result)
    assert checks[("silver/loans", "rows_conserved")].passed
    assert checks[("silver/loan_outcomes", "rows_conserved")].passed
    assert checks[("silver/loans", "key_unique")].passed
    assert checks[("silver/loans", "completeness")].passed  # region is null in 1 of 3 rows: within max_null_rate 0.5
    assert not table_exists(home, "bronze.applications")
    for name in TOY_TABLES:
        assert table_exists(home, name), name


def test_toy_bronze_keeps_every_landed_row_as_text(toy_run):
    bronze = table(toy_run[0], "bronze.loans", "order by _line_number")
    values = split_fields(bronze, load_contract(TOY).entity.column_names)
    assert values["loan_id"].to_list() == ["1", "2", "3", "4"]
    assert values["amount"].to_list() == ["1000.5", " 250 ", "-5", "80"]
    assert bronze["_line_number"].to_list() == [2, 3, 4, 5]


def test_toy_silver_is_typed_per_the_contract(toy_run):
    silver = table(toy_run[0], "silver.loans", "order by loan_id")
    assert (
        silver.schema["amount"] == pl.Float64
        and silver.schema["term_months"] == pl.Int16
        and silver.schema["region"] == pl.String
    )
    assert silver.select("loan_id", "amount", "term_months", "region").rows() == [
        (1, 1000.5, 12, "north"),
        (2, 250.0, 24, None),
        (4, 80.0, 36, "east"),
    ]
    outcomes = table(toy_run[0], "silver.loan_outcomes", "order by loan_id")
    assert outcomes.schema["observed_on"] == pl.Date and outcomes.schema["repaid"] == pl.Int8


def test_toy_invalid_row_is_quarantined_with_its_reason(toy_run):
    quarantine = table(toy_run[0], "silver.loans_quarantine")
    assert quarantine.height == 1
    row = quarantine.row(0, named=True)
    assert row["feed"] == "loans" and row["reason"] == "out_of_range" and row["reasons"] == ["out_of_range:amount"]
    assert row["line_number"] == 4 and row["raw_line"] == "3,-5,36,south"
    assert json.loads(row["raw_values"]) == {"loan_id": "3", "amount": "-5", "term_months": "36", "region": "south"}


def test_toy_gold_features_are_the_numeric_non_key_columns_as_float(toy_run):
    features = table(toy_run[0], "gold.loan_features", "order by loan_id")
    assert features.columns == ["partition_date", "loan_id", "amount", "term_months", "feature_set_version"]
    assert features.schema["amount"] == pl.Float64 and features.schema["term_months"] == pl.Float64
    assert features.select("loan_id", "amount", "term_months").rows() == [
        (1, 1000.5, 12.0),
        (2, 250.0, 24.0),
        (4, 80.0, 36.0),
    ]
    assert features["feature_set_version"].unique().to_list()[0].startswith("toy_loans-identity-")


def test_toy_gold_labels_are_the_known_outcomes(toy_run):
    home, _, result = toy_run
    labels = table(home, "gold.loan_labels", "order by loan_id")
    assert labels.select("loan_id", "repaid").rows() == [(1, 1), (2, 0)]
    assert labels["application_date"].to_list() == [DAY1, DAY1] and labels["label_date"].to_list() == [DAY1, DAY1]
    checks = checks_by_name(result)
    assert checks[("gold/loan_labels", "labels_not_before_application")].passed
    assert checks[("gold/loan_features", "feature_ranges")].passed


def test_both_contracts_build_one_definitions_without_clashes(tmp_path, reference):
    home = Settings(home=tmp_path / "home")
    with scaffolded_project({"credit_default": (CREDIT_CONTRACT, CREDIT_ML), "toy_loans": (TOY, False)}) as (root, _):
        defs = build_definitions(home, project_root=root)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"bronze/applications", "silver/quarantine", "gold/features", "gold/labels"} <= keys
    assert {name.replace(".", "/") for name in TOY_TABLES} <= keys
    for job_name in defs.get_repository_def().job_names:
        defs.resolve_job_def(job_name)
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert {target.job_name for target in sensor.targets} == {"etl_job", TOY_JOB}

    part = land_reference_rows(home, reference, DAY1, 0, 20)
    land_outcomes(home, part, DAY1)
    land(home, "loans", DAY1, "loans.csv", LOANS)
    credit, toy = run_etl(defs, DAY1), run_etl(defs, DAY1, job=TOY_JOB)
    assert credit.success and toy.success
    assert checks_by_name(credit)[("silver/applications", "rows_conserved")].passed
    assert checks_by_name(toy)[("silver/loans", "rows_conserved")].passed
    assert table(home, "silver.applications").height == 20
    assert table(home, "silver.loans").height == 3
    assert table(home, "silver.quarantine").height == 0  # the toy's rejected row goes to its own quarantine
    assert table(home, "silver.loans_quarantine").height == 1


def test_two_datasets_claiming_one_table_fail_at_load_naming_both_contracts(tmp_path):
    with scaffolded_project({"one": (TOY, False), "two": (TOY, False)}) as (root, defs_folder):
        with pytest.raises(Exception) as error:  # Dagster wraps it, naming the module that failed to build
            build_definitions(Settings(home=tmp_path), project_root=root)
    assert isinstance(error.value.__cause__, ContractError)
    message = str(error.value.__cause__)
    assert "bronze.loans" in message
    assert (
        str(defs_folder / "one" / "contract.yaml") in message and str(defs_folder / "two" / "contract.yaml") in message
    )


@pytest.mark.parametrize(
    ("toy_ml", "claim", "setting"),
    [
        ({"schema": "ml"}, "schema 'ml'", "ml.schema"),
        ({"serving_schema": "ml"}, "schema 'ml'", "ml.serving_schema"),
        ({"model": "credit_default"}, "model 'credit_default'", "ml.model"),
    ],
)
def test_two_datasets_declaring_the_same_ml_names_fail_at_load_naming_both(tmp_path, toy_ml, claim, setting):
    with scaffolded_project({"credit_default": (CREDIT_CONTRACT, CREDIT_ML), "toy_loans": (TOY, toy_ml)}) as (
        root,
        defs_folder,
    ):
        with pytest.raises(Exception) as error:
            build_definitions(Settings(home=tmp_path), project_root=root)
    message = _contract_error(error.value)
    assert claim in message and f"`{setting}`" in message
    for dataset in ("credit_default", "toy_loans"):
        assert f"{dataset} ({defs_folder / dataset / 'defs.yaml'}" in message


@pytest.mark.parametrize(
    ("toy_ml", "expected"),
    [
        ({"candidates": ["xgboost"]}, "`ml.candidates: ['xgboost']` is not allowed; use one or more of logistic_reg"),
        ({"auc_floor": 0.3}, "`ml.auc_floor: 0.3` is not allowed; use a ROC AUC between 0.5 (chance) and 1"),
        ({"schema": "gold"}, "`ml.schema: 'gold'` is not allowed; use a lower-case SQL name (a-z, 0-9, '_') other"),
        ({"model": "my model"}, "`ml.model: 'my model'` is not allowed; a registered model name has letters"),
        ({"schema": "s", "serving_schema": "s"}, "`ml.serving_schema: 's'` is not allowed; the served tables need"),
    ],
)
def test_a_bad_ml_setting_fails_at_load_naming_the_dataset_setting_and_allowed_values(tmp_path, toy_ml, expected):
    with scaffolded_project({"toy_loans": (TOY, toy_ml)}) as (root, defs_folder):
        with pytest.raises(Exception) as error:
            build_definitions(Settings(home=tmp_path), project_root=root)
    assert f"{defs_folder / 'toy_loans' / 'defs.yaml'}: dataset toy_loans: {expected}" in _contract_error(error.value)


def _contract_error(error: BaseException | None) -> str:
    while error is not None and not isinstance(error, ContractError):
        error = error.__cause__ or error.__context__
    assert error is not None, "no ContractError in the chain"
    return str(error)


def test_toy_definitions_resolve_its_etl_job(toy_run):
    job = toy_run[1].resolve_job_def(TOY_JOB)
    assert isinstance(job, dg.JobDefinition)
    assert job.partitions_def is not None
