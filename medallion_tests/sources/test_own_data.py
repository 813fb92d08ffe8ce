"""`medallion init-contract` and `medallion land` on a file the project has never seen: categorical codes, numbers,
a 1/2 class, no ids, no dates, quoting, a value with a line break and a CRLF line ending."""

from __future__ import annotations

import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from medallion.contract import load_contract
from medallion.definitions import build_definitions
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.settings import Settings
from medallion.sources.landing import LandingConflictError
from medallion.sources.own_data import (
    HeaderMismatchError,
    OwnDataError,
    draft_contract,
    land_file,
    resolve_dataset,
)
from medallion.tools.cli import main

ROWS, DAYS, START = 300, 10, date(2025, 1, 1)
HEADER = "checking,duration,purpose,amount,rate,installment,note,class"
NOTE_WITH_BREAK = 4  # the data row whose note holds a line break: every later record starts one physical line later


def row(i: int, duration: str | None = None) -> str:
    purpose = f'"A4{i % 5}"' if i % 3 == 0 else f"A4{i % 5}"
    note = '"late, twice"' if i % 10 == 0 else "" if i % 7 == 0 else f"n{i}"
    if i == NOTE_WITH_BREAK:
        note = '"moved\nabroad"'
    values = [
        f"A1{1 + i % 4}",
        duration or str(6 + (i * 7) % 43),
        purpose,
        str(250 + (i * 937) % 15000),
        str(0.5 + (i % 13) * 0.25),
        str(1 + i % 4),
        note,
        "2" if i % 10 in (0, 3, 7) else "1",
    ]
    return ",".join(values)


def applicants_csv(rows: list[str] | None = None, header: str = HEADER) -> str:
    lines = [header, *(rows if rows is not None else [row(i) for i in range(ROWS)])]
    text = "\n".join(lines) + "\n"
    return text.replace("\n", "\r\n", 1)  # the header line ends with CRLF, the rest with LF


def line_of(i: int) -> int:
    """The physical line where data row i starts (1 = the header)."""
    return i + 2 + (1 if i > NOTE_WITH_BREAK else 0)


@pytest.fixture
def applicants(tmp_path) -> Path:
    path = tmp_path / "applicants.csv"
    path.write_bytes(applicants_csv().encode())
    return path


@pytest.fixture
def drafted(tmp_path, applicants) -> Path:
    """The contract init-contract drafts from the file, in a defs folder of its own."""
    out = tmp_path / "defs" / "german_credit"
    draft_contract(applicants, "german_credit", "class", out=out, defs_root=tmp_path / "defs")
    return out / "contract.yaml"


def read_day(folder: Path) -> pl.DataFrame:
    (path,) = folder.iterdir()
    return pl.read_csv(path, infer_schema=False)


def test_init_contract_drafts_types_rules_and_label_and_loads(tmp_path, applicants, capsys):
    out = tmp_path / "draft"
    argv = ["init-contract", "--input", str(applicants), "--dataset", "german_credit", "--label-column", "class"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "label_positive 2 is a guess, the rarer class (1: 210, 2: 90)" in printed
    assert f"medallion land --input {applicants} --contract {out / 'contract.yaml'}" in printed

    contract = load_contract(out / "contract.yaml")
    columns = {c.name: c for c in contract.entity.columns}
    assert list(columns) == ["ID", "checking", "duration", "purpose", "amount", "rate", "installment", "note"]
    assert contract.key == "ID" and columns["ID"].type == "int64" and columns["ID"].min == 1
    assert (columns["checking"].type, columns["checking"].allowed) == ("string", ("A11", "A12", "A13", "A14"))
    assert columns["purpose"].allowed == ("A40", "A41", "A42", "A43", "A44")
    assert (columns["duration"].type, columns["duration"].min, columns["duration"].max) == ("int8", 6, 48)
    assert (columns["amount"].type, columns["amount"].min, columns["amount"].max) == (
        "int16",
        min(250 + (i * 937) % 15000 for i in range(ROWS)),
        max(250 + (i * 937) % 15000 for i in range(ROWS)),
    )
    assert (columns["rate"].type, columns["rate"].min, columns["rate"].max) == ("float64", 0.5, 3.5)
    assert (columns["installment"].type, columns["installment"].allowed) == ("int8", (1, 2, 3, 4))
    assert columns["note"].type == "string" and columns["note"].allowed is None
    empty_notes = sum(1 for i in range(ROWS) if i % 7 == 0 and i % 10)  # 39 of 300: a rate of 0.13
    assert columns["note"].nullable and columns["note"].max_null_rate == -(-empty_notes * 100 // ROWS) / 100
    assert not any(c.nullable for name, c in columns.items() if name != "note")
    label = contract.outcome.column("class")
    assert (contract.label, label.type, label.allowed, contract.label_positive) == ("class", "int8", (1, 2), 2)
    assert (contract.label_time, contract.application_time, contract.label_delay_days) == (
        "outcome_date",
        "application_date",
        30,
    )
    assert contract.features_module is None
    features = feature_set_for(contract)
    assert features.names == ["checking", "duration", "purpose", "amount", "rate", "installment"]
    assert set(features.categories) == {"checking", "purpose"}
    assert yaml.safe_load((out / "defs.yaml").read_text()) == {
        "type": "medallion.components.Dataset",
        "attributes": {"contract": "contract.yaml", "ml": True},
    }
    # Drafts never overwrite.
    assert main([*argv, "--out", str(out)]) == 1
    assert "already exist" in capsys.readouterr().err


def test_init_contract_takes_the_positive_label_id_and_date_columns(tmp_path):
    frame = pl.DataFrame(
        {
            "client": [f"c{i}" for i in range(40)],
            "applied": [(START + timedelta(days=i % 4)).isoformat() for i in range(40)],
            "score": [i * 1.5 for i in range(40)],
            "status": ["good" if i % 3 else "bad" for i in range(40)],
        }
    )
    path = tmp_path / "cards.parquet"
    frame.write_parquet(path)
    draft = draft_contract(
        path, "cards", "status", id_column="client", date_column="applied", positive_label="good", out=tmp_path / "d"
    )
    contract = draft.contract
    assert contract.key == "client" and contract.entity.column("client").type == "string"
    assert contract.entity.column_names == ["client", "score"]  # the date column is the landing day
    assert (contract.outcome.column("status").allowed, contract.label_positive) == (("bad", "good"), "good")
    with pytest.raises(OwnDataError, match="not one of the label's classes"):
        draft_contract(path, "cards", "status", positive_label="ok", out=tmp_path / "e")


def test_land_spreads_rows_over_days_with_generated_ids_and_is_idempotent(tmp_path, applicants, drafted):
    landing = tmp_path / "home" / "landing"
    contract = load_contract(drafted)
    summary = land_file(landing, contract, applicants, start=START, days=DAYS)

    days = [START + timedelta(days=i) for i in range(DAYS)]
    assert sorted(p.name for p in (landing / "german_credit").iterdir()) == [d.isoformat() for d in days]
    outcome_days = [d + timedelta(days=30) for d in days]
    assert sorted(p.name for p in (landing / "german_credit_outcomes").iterdir()) == [
        d.isoformat() for d in outcome_days
    ]
    ids = []
    for day in days:
        applications = read_day(landing / "german_credit" / day.isoformat())
        outcomes = read_day(landing / "german_credit_outcomes" / (day + timedelta(days=30)).isoformat())
        assert applications.columns == contract.entity.column_names and applications.height == ROWS // DAYS
        assert outcomes.columns == ["ID", "class", "outcome_date", "application_date"]
        assert outcomes["ID"].to_list() == applications["ID"].to_list()
        assert set(outcomes["outcome_date"]) == {(day + timedelta(days=30)).isoformat()}
        assert set(outcomes["application_date"]) == {day.isoformat()}
        ids += applications["ID"].cast(pl.Int64).to_list()
    assert ids == list(range(1, ROWS + 1))  # unique, in file order
    first = read_day(landing / "german_credit" / START.isoformat())
    assert first["note"][NOTE_WITH_BREAK] == "moved\nabroad" and first["note"][0] == "late, twice"
    assert (summary.files_written, summary.files_unchanged, summary.findings) == (20, 0, ())
    assert (summary.landing.rows, summary.landing.days, summary.landing.last_outcome_day) == (
        ROWS,
        DAYS,
        date(2025, 2, 9),
    )
    assert summary.etl_job == "etl_job__german_credit"

    files = sorted(landing.rglob("*.csv"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = land_file(landing, contract, applicants, start=START, days=DAYS)
    assert (again.files_written, again.files_unchanged) == (0, 20)
    assert "20 file(s) written" not in again.describe() and "10 already identical" in again.describe()
    assert {p: p.stat().st_mtime_ns for p in sorted(landing.rglob("*.csv"))} == stamps

    rows = [row(i) for i in range(ROWS)]
    rows[40] = row(40, duration="7")
    applicants.write_bytes(applicants_csv(rows).encode())
    day_of_row_40 = START + timedelta(days=40 // (ROWS // DAYS))
    with pytest.raises(LandingConflictError, match=f"german_credit/{day_of_row_40}/applicants_{day_of_row_40}.csv"):
        land_file(landing, contract, applicants, start=START, days=DAYS)
    assert {p: p.stat().st_mtime_ns for p in sorted(landing.rglob("*.csv"))} == stamps


def test_a_wrong_header_is_refused_naming_missing_and_extra_columns(tmp_path, drafted):
    path = tmp_path / "renamed.csv"
    header = HEADER.replace("amount", "credit_amount")
    path.write_text(applicants_csv(header=header))
    with pytest.raises(HeaderMismatchError, match="missing: amount; extra: credit_amount") as refused:
        land_file(tmp_path / "landing", load_contract(drafted), path, start=START, days=DAYS)
    assert refused.value.missing == ["amount"] and refused.value.extra == ["credit_amount"]
    assert not (tmp_path / "landing").exists()
    renamed_label = tmp_path / "label.csv"
    renamed_label.write_text(applicants_csv(header=HEADER.replace("class", "risk")))
    with pytest.raises(HeaderMismatchError, match="--label-column"):
        land_file(tmp_path / "landing", load_contract(drafted), renamed_label, start=START, days=DAYS)
    summary = land_file(
        tmp_path / "landing", load_contract(drafted), renamed_label, start=START, days=DAYS, label_column="risk"
    )
    assert summary.outcome_rows == ROWS


def test_bad_values_are_reported_with_their_lines_and_still_landed(tmp_path, drafted):
    rows = [row(i) for i in range(ROWS)]
    rows[12] = row(12, duration="abc")
    rows[250] = row(250, duration="99")
    rows[100] = row(100).removesuffix(",1").removesuffix(",2") + ","  # no label: an outcome not known yet
    path = tmp_path / "applicants.csv"
    path.write_text(applicants_csv(rows))
    summary = land_file(tmp_path / "landing", load_contract(drafted), path, start=START, days=DAYS)
    found = {(f.reason, f.column): (f.rows, f.lines) for f in summary.findings}
    assert found == {
        ("invalid_type", "duration"): (1, (line_of(12),)),
        ("out_of_range", "duration"): (1, (line_of(250),)),
    }
    assert f"german_credit invalid_type:duration: 1 row(s) (applicants.csv lines {line_of(12)})" in summary.describe()
    assert "silver quarantines them" in summary.describe()
    assert summary.outcome_rows == ROWS - 1
    assert f"1 row(s) have no label in class (line {line_of(100)}): their applications are landed" in summary.notes[0]
    assert read_day(tmp_path / "landing" / "german_credit" / START.isoformat())["duration"][12] == "abc"
    with pytest.raises(OwnDataError, match="--strict and 2 rule"):
        land_file(tmp_path / "other", load_contract(drafted), path, start=START, days=DAYS, strict=True)


def test_land_by_a_date_column_and_from_parquet(tmp_path, applicants):
    frame = pl.read_csv(applicants).with_columns(
        pl.Series("applied", [(START + timedelta(days=(i * 3) % 5)).isoformat() for i in range(ROWS)])
    )
    path = tmp_path / "dated.parquet"
    frame.write_parquet(path)
    draft = draft_contract(path, "dated", "class", date_column="applied", label_delay_days=7, out=tmp_path / "d")
    landing = tmp_path / "landing"
    summary = land_file(landing, draft.contract, path, date_column="applied")
    assert (summary.landing.days, summary.label_delay_days, summary.unit) == (5, 7, "row")
    for offset in range(5):
        day = START + timedelta(days=offset)
        applications = read_day(landing / "dated" / day.isoformat())
        assert applications.height == ROWS // 5 and "applied" not in applications.columns
        outcomes = read_day(landing / "dated_outcomes" / (day + timedelta(days=7)).isoformat())
        assert set(outcomes["outcome_date"]) == {(day + timedelta(days=7)).isoformat()}
    # The same values from the CSV give the same bytes (the landing files are named after the input file).
    csv_path = tmp_path / "dated.csv"
    frame.write_csv(csv_path)
    other = tmp_path / "other"
    land_file(other, draft.contract, csv_path, date_column="applied")
    for landed in sorted(landing.rglob("*.csv")):
        assert (other / landed.relative_to(landing)).read_bytes() == landed.read_bytes()


def test_a_separate_outcomes_file_joins_on_the_id_column(tmp_path, drafted):
    applications = pl.read_csv(applicants_csv().encode()).with_columns(
        pl.int_range(1000, 1000 + ROWS).alias("client_no")
    )
    (tmp_path / "apps.csv").write_bytes(applications.drop("class").write_csv().encode())
    outcomes = applications.select("client_no", "class").reverse().head(200)
    outcomes.with_columns(pl.when(pl.int_range(200) == 5).then(3).otherwise(pl.col("class")).alias("class")).write_csv(
        tmp_path / "outcomes.csv"
    )
    summary = land_file(
        tmp_path / "landing",
        load_contract(drafted),
        tmp_path / "apps.csv",
        outcomes_path=tmp_path / "outcomes.csv",
        id_column="client_no",
        start=START,
        days=DAYS,
    )
    assert (summary.outcome_rows, summary.ids) == (200, "from column client_no into ID")
    (finding,) = summary.findings
    assert finding.describe() == "german_credit_outcomes not_allowed:class: 1 row(s) (outcomes.csv lines 7)"
    last_day = START + timedelta(days=DAYS - 1)
    outcomes = read_day(tmp_path / "landing" / "german_credit_outcomes" / (last_day + timedelta(days=30)).isoformat())
    assert outcomes["ID"].to_list() == [str(1000 + i) for i in range(ROWS - 30, ROWS)][::-1]


def test_cli_land_prints_the_summary_and_next_command(tmp_path, applicants, drafted, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("MEDALLION_START_DATE", "2025-01-01")
    monkeypatch.delenv("MEDALLION_END_DATE", raising=False)
    argv = ["land", "--input", str(applicants), "--contract", str(drafted), "--start", "2024-12-01", "--days", "10"]
    assert main([*argv, "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "300 row(s) of" in out and "ids: generated 1..300" in out
    assert f"{home / 'landing' / 'german_credit'}: 10 file(s) written, 0 already identical" in out
    assert "applications 2024-12-01..2024-12-10" in out and "the last on 2025-01-09" in out
    assert "MEDALLION_START_DATE=2024-12-01" in out
    assert f"next: MEDALLION_HOME={home} MEDALLION_START_DATE=2024-12-01 medallion launch etl_job__german_credit" in out
    assert "--start 2024-12-01 --end 2025-01-09" in out
    assert main([*argv, "--home", str(home), "--date-column", "x"]) == 1
    assert "alternatives" in capsys.readouterr().err


def test_datasets_are_found_by_name(tmp_path, drafted):
    entry = resolve_dataset("german_credit", None, defs_root=tmp_path / "defs")
    assert entry.contract.source == drafted and entry.etl_job == "etl_job__german_credit"
    assert resolve_dataset("credit_default", None).etl_job == "etl_job"
    with pytest.raises(OwnDataError, match=r"no dataset 'nope' among the defined datasets \(german_credit\)"):
        resolve_dataset("nope", None, defs_root=tmp_path / "defs")


def test_the_drafted_dataset_loads_as_the_code_location_loads_it(tmp_path, drafted, monkeypatch):
    """What `dg check defs` checks: the defs folder with the draft loads, and its definitions validate."""
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path / "home"))
    with create_defs_folder_sandbox() as sandbox:
        shutil.copytree(drafted.parent, sandbox.defs_folder_path / "german_credit")
        source = str(sandbox.project_root / "src")
        sys.path.insert(0, source)
        try:
            defs = build_definitions(Settings.from_env(), project_root=sandbox.project_root)
            dg.Definitions.validate_loadable(defs)
            keys = {spec.key.to_user_string() for spec in defs.resolve_all_asset_specs()}
        finally:
            sys.path.remove(source)
    assert {"bronze/german_credit", "silver/german_credit_quarantine", "gold/german_credit_labels"} <= keys
    assert {"ml_german_credit/model", "serving_german_credit/predictions"} <= keys
