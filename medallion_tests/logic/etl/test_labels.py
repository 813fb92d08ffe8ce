"""Finding 6: an outcome attaches to the application it resolves, by key and application day, never to a later
re-application of the same key, and only once the application is old enough (the maturity horizon)."""

from datetime import date, timedelta

import polars as pl
import pytest

from medallion.contract import ContractError, load_contract
from medallion.contract.model import parse_contract
from medallion.logic.etl.labels import build_labels
from medallion_tests.conftest import CREDIT_CONTRACT

LABEL = "default_payment_next_month"
D1 = date(2025, 1, 1)
D11, D31 = D1 + timedelta(days=10), D1 + timedelta(days=30)


def applications(rows: list[tuple[int, date]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ID": pl.Int64, "partition_date": pl.Date}, orient="row")


def outcomes(rows: list[tuple[int, int, date, date | None]]) -> pl.DataFrame:
    frame = pl.DataFrame(
        rows,
        schema={"ID": pl.Int64, LABEL: pl.Int8, "partition_date": pl.Date, "application_date": pl.Date},
        orient="row",
    )
    return frame.with_columns(pl.col("partition_date").alias("outcome_date"))


# Client 5 applies on D1 and again on D11; the outcome of the D1 application lands on D31.
REAPPLIED = applications([(5, D1), (5, D11), (6, D1)])


def test_an_outcome_naming_its_application_day_attaches_to_that_application():
    result = build_labels(outcomes([(5, 1, D31, D1)]), REAPPLIED, "ID", LABEL, "outcome_date", "application_date")
    assert result.labels.select("ID", "application_date", "label_date", LABEL).rows() == [(5, D1, D31, 1)]
    assert result.unmatched.is_empty()


def test_without_the_day_the_maturity_horizon_finds_the_application():
    unnamed = outcomes([(5, 1, D31, None)])
    result = build_labels(unnamed, REAPPLIED, "ID", LABEL, "outcome_date", "application_date", maturity_days=30)
    assert result.labels.select("ID", "application_date").rows() == [(5, D1)]
    # With no horizon the outcome goes to the re-application of D11, which is what the old matching always did.
    naive = build_labels(unnamed, REAPPLIED, "ID", LABEL, "outcome_date", "application_date")
    assert naive.labels.select("ID", "application_date").rows() == [(5, D11)]


def test_outcomes_of_no_application_or_before_maturity_are_unmatched_with_a_reason():
    rows = outcomes([(5, 1, D11 + timedelta(days=5), D11), (6, 0, D31, D11), (7, 0, D31, None)])
    result = build_labels(rows, REAPPLIED, "ID", LABEL, "outcome_date", "application_date", maturity_days=30)
    assert result.labels.is_empty()
    reasons = dict(result.unmatched.select("ID", "reason").rows())
    assert reasons == {5: "not_mature", 6: "no_application", 7: "no_application"}


def test_one_key_may_resolve_two_applications_on_the_same_day():
    rows = outcomes([(5, 1, D31, D1), (5, 0, D31, D11)])
    result = build_labels(rows, REAPPLIED, "ID", LABEL, "outcome_date", "application_date")
    assert result.labels.select("application_date", LABEL).rows() == [(D1, 1), (D11, 0)]


def test_the_shipped_contract_names_the_application_day_and_the_horizon_is_validated():
    contract = load_contract(CREDIT_CONTRACT)
    assert (contract.application_time, contract.label_maturity_days) == ("application_date", 0)
    raw = {
        "name": "x",
        "entity": {"feed": "a", "key": "ID", "columns": [{"name": "ID", "type": "int64"}]},
        "outcome": {
            "feed": "o",
            "key": "ID",
            "columns": [{"name": "ID", "type": "int64"}, {"name": "y", "type": "int8"}, {"name": "t", "type": "date"}],
        },
        "label": "y",
        "label_time": "t",
    }
    assert parse_contract({**raw, "label_maturity_days": 30}).label_maturity_days == 30
    with pytest.raises(ContractError, match="label_maturity_days: -1"):
        parse_contract({**raw, "label_maturity_days": -1})
    with pytest.raises(ContractError, match="application_time: y. must be a date column"):
        parse_contract({**raw, "application_time": "y"})
