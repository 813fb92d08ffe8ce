"""What the Dagster catalog shows of each table: columns with the contract's descriptions and rules, owners."""

import pytest
import yaml

from medallion.definitions import build_definitions
from medallion_tests.conftest import CREDIT_CONTRACT
from medallion_tests.contract.test_contract import load_error


@pytest.fixture
def specs(home):
    return {spec.key.to_user_string(): spec for spec in build_definitions(home).resolve_all_asset_specs()}


def columns(spec) -> dict:
    return {c.name: c for c in spec.metadata["dagster/column_schema"].columns}


def test_silver_columns_carry_the_contracts_types_descriptions_and_rules(specs):
    limit = columns(specs["silver/applications"])["LIMIT_BAL"]
    assert limit.type == "int64" and limit.description == "credit limit (NT dollars)"
    assert limit.constraints.nullable is False and ">= 1" in limit.constraints.other
    sex = columns(specs["silver/applications"])["SEX"]
    assert "in (1, 2)" in sex.constraints.other


def test_bronze_columns_are_records_with_lineage_and_quarantine_names_its_columns(specs):
    bronze = columns(specs["bronze/applications"])
    assert bronze["_raw_line"].type == "string" and bronze["_line_number"].description.startswith("its physical line")
    assert "LIMIT_BAL" not in bronze and columns(specs["silver/applications"])["LIMIT_BAL"].type == "int64"
    assert {"reason", "reasons", "raw_line", "source_file"} <= set(columns(specs["silver/quarantine"]))


def test_gold_features_show_each_features_declared_range(specs):
    features = columns(specs["gold/features"])
    assert features["limit_bal"].constraints.other == [">= 1", "<= 10,000,000", "null rate <= 0"]


def test_every_table_of_the_dataset_has_the_contracts_owners(specs):
    assert {tuple(spec.owners) for spec in specs.values()} == {("team:credit-risk",)}


def test_a_malformed_owner_names_the_setting_and_the_allowed_forms(tmp_path):
    raw = yaml.safe_load(CREDIT_CONTRACT.read_text())
    raw["owners"] = ["credit risk team"]
    _, message = load_error(tmp_path, raw)
    assert "`owners: ['credit risk team']`" in message and "team:<name>" in message
