"""The contract loader: the shipped contract, and a ContractError naming file and setting for each malformed one."""

import copy
from pathlib import Path

import pytest
import yaml

from medallion.components import project_datasets
from medallion.contract import ContractError, check_no_shared_tables, load_contract
from medallion.contract.model import POLARS_TYPES
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.sources.landing import APPLICATION_COLUMNS
from medallion_tests.conftest import CREDIT_CONTRACT

SHIPPED = CREDIT_CONTRACT


@pytest.fixture(scope="module")
def shipped_raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def write(folder: Path, raw: dict, name: str = "contract.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def load_error(tmp_path: Path, raw: dict) -> tuple[Path, str]:
    path = write(tmp_path, raw)
    with pytest.raises(ContractError) as error:
        load_contract(path)
    return path, str(error.value)


def test_shipped_contract_loads():
    contract = load_contract(SHIPPED)
    assert contract.name == "credit_default"
    assert contract.entity.name == "applications" and contract.outcome.name == "outcomes"
    assert len(contract.entity.columns) == 24
    assert contract.entity.column_names == list(APPLICATION_COLUMNS)
    assert contract.key == "ID" and contract.outcome.key == "ID"
    assert contract.label == "default_payment_next_month"
    assert contract.label_time == "outcome_date"
    assert (contract.quarantine_table, contract.features_table, contract.labels_table) == (
        "quarantine",
        "features",
        "labels",
    )
    assert contract.entity.column("SEX").allowed == (1, 2)
    assert contract.entity.column("AGE").type == "int16"
    assert contract.source == SHIPPED


def test_the_project_loads_the_credit_dataset_from_its_defs_folder():
    datasets = project_datasets()
    assert list(datasets) == ["credit_default"]
    assert datasets["credit_default"].ml and datasets["credit_default"].loaded_contract.source == SHIPPED


def test_shipped_contract_uses_its_features_module():
    feature_set = feature_set_for(load_contract(SHIPPED))
    assert feature_set.version == "credit-v1"
    assert "utilisation_latest" in feature_set.names


def test_unknown_type_names_file_setting_and_allowed_values(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["entity"]["columns"][5]["type"] = "decimal"
    path, message = load_error(tmp_path, raw)
    assert str(path) in message
    assert "'AGE'" in message and "type: decimal" in message
    for allowed in POLARS_TYPES:
        assert allowed in message


def test_unknown_column_setting_names_it(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["entity"]["columns"][1]["maximum"] = 5
    path, message = load_error(tmp_path, raw)
    assert str(path) in message
    assert "'LIMIT_BAL'" in message and "maximum" in message and "unknown setting" in message


def test_key_that_is_not_a_column(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["entity"]["key"] = "CLIENT_ID"
    path, message = load_error(tmp_path, raw)
    assert str(path) in message
    assert "key: CLIENT_ID" in message and "applications" in message


@pytest.mark.parametrize("setting, value", [("label", "defaulted"), ("label_time", "LIMIT_BAL")])
def test_label_and_label_time_must_be_outcome_columns(tmp_path, shipped_raw, setting, value):
    raw = copy.deepcopy(shipped_raw)
    raw[setting] = value  # LIMIT_BAL is an application column, not an outcome column
    path, message = load_error(tmp_path, raw)
    assert str(path) in message
    assert f"{setting}: {value}" in message and "'outcomes'" in message


def test_outcome_key_must_equal_entity_key(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["outcome"]["key"] = "default_payment_next_month"
    path, message = load_error(tmp_path, raw)
    assert str(path) in message and "outcome key" in message


def test_duplicate_column_names(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    raw["entity"]["columns"].append({"name": "AGE", "type": "int16"})
    path, message = load_error(tmp_path, raw)
    assert str(path) in message
    assert "duplicate column names ['AGE']" in message


def test_missing_required_setting(tmp_path, shipped_raw):
    raw = copy.deepcopy(shipped_raw)
    del raw["label_time"]
    path, message = load_error(tmp_path, raw)
    assert str(path) in message and "`label_time`" in message


def test_top_level_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- name: x\n", encoding="utf-8")
    with pytest.raises(ContractError, match="expected a mapping"):
        load_contract(path)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nentity: [\n", encoding="utf-8")
    with pytest.raises(ContractError) as error:
        load_contract(path)
    assert str(path) in str(error.value) and "not valid YAML" in str(error.value)


def test_two_contracts_claiming_the_same_table(tmp_path, shipped_raw):
    write(tmp_path, shipped_raw, "a_credit.yaml")
    second = copy.deepcopy(shipped_raw)
    second["name"] = "credit_copy"
    second["tables"] = {"quarantine": "quarantine_copy", "features": "features_copy", "labels": "labels_copy"}
    write(tmp_path, second, "b_copy.yaml")  # same feeds → same bronze/silver tables
    with pytest.raises(ContractError) as error:
        check_no_shared_tables([load_contract(tmp_path / "a_credit.yaml"), load_contract(tmp_path / "b_copy.yaml")])
    message = str(error.value)
    assert str(tmp_path) in message
    assert "bronze.applications" in message and "silver.outcomes" in message
    assert "silver.quarantine " not in message


def test_table_clash_names_the_clashing_files(tmp_path, shipped_raw):
    write(tmp_path, shipped_raw, "a_credit.yaml")
    write(tmp_path, {**shipped_raw, "name": "credit_copy"}, "b_copy.yaml")
    with pytest.raises(ContractError) as error:
        check_no_shared_tables([load_contract(tmp_path / "a_credit.yaml"), load_contract(tmp_path / "b_copy.yaml")])
    assert "a_credit.yaml" in str(error.value) and "b_copy.yaml" in str(error.value)


def test_features_module_that_cannot_be_imported(tmp_path, shipped_raw):
    raw = {**copy.deepcopy(shipped_raw), "features": "medallion.logic.no_such_features"}
    contract = load_contract(write(tmp_path, raw))
    with pytest.raises(ContractError) as error:
        feature_set_for(contract)
    message = str(error.value)
    assert str(contract.source) in message
    assert "features: medallion.logic.no_such_features" in message and "cannot be imported" in message


def test_features_module_lacking_the_required_names(tmp_path, shipped_raw):
    raw = {**copy.deepcopy(shipped_raw), "features": "medallion.logic.etl.labels"}
    contract = load_contract(write(tmp_path, raw))
    with pytest.raises(ContractError, match=r"lacks \['engineer_features', 'FEATURE_SET_VERSION', 'FEATURE_SPECS'\]"):
        feature_set_for(contract)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda raw: raw["entity"]["columns"].append("surname"),  # a bare column name containing 'name'
        lambda raw: raw.update(entity="feedback"),  # a feed given as a string containing 'feed'
        lambda raw: raw.update(tables=["quarantine"]),  # tables as a list
    ],
    ids=["column-as-string", "feed-as-string", "tables-as-list"],
)
def test_settings_of_the_wrong_shape_give_a_contract_error(tmp_path, shipped_raw, mutate):
    raw = copy.deepcopy(shipped_raw)
    mutate(raw)
    load_error(tmp_path, raw)


@pytest.mark.parametrize(
    ("mutate", "setting"),
    [
        (lambda raw: raw["entity"]["columns"][1].update(name="LIMIT_BAL; drop table silver.applications"), "name"),
        (lambda raw: raw.update(tables={"quarantine": "q; drop table y"}), "tables.quarantine"),
        (lambda raw: raw["outcome"].update(feed='outcomes"--'), "feed"),
        (lambda raw: raw.update(name="credit default"), "name"),
    ],
    ids=["column", "table", "feed", "dataset"],
)
def test_a_name_that_is_not_an_sql_identifier_is_refused_at_load(tmp_path, shipped_raw, mutate, setting):
    raw = copy.deepcopy(shipped_raw)
    mutate(raw)
    path, message = load_error(tmp_path, raw)
    assert str(path) in message and f"`{setting}: " in message and "letters, digits and '_' only" in message
