"""The contract gains a column after days were processed (issue 20's probe): files landed before the change lack it,
files landed after have it, and one range (even one day) holds both.

A nullable column that a file's header lacks is read as null, as an empty value is: its rows stay valid in silver
and `medallion score` takes them. Before, silver quarantined every row of such a file as `missing_column:<col>`
(in the probe, re-deriving silver and gold over 60 days emptied the 30 old days of silver, gold and predictions in a
green run) and `medallion score` refused the file. A required column a file lacks still rejects its rows.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from medallion.contract.model import parse_contract
from medallion.logic.etl.cleaning import validate_feed
from medallion.logic.etl.ingestion import read_landing_file
from medallion.settings import PACKAGE_DIR, Settings
from medallion.tools.score import ScoringInputError, read_input

SHIPPED = PACKAGE_DIR / "defs" / "credit_default" / "contract.yaml"
DAY = date(2025, 1, 31)
INGESTED = datetime(2025, 2, 1, tzinfo=UTC)
VALUES = "50000,2,2,1,30,0,0,0,0,0,0,1000,900,800,700,600,500,100,100,100,100,100,100"


def contract_with_channel(nullable: bool):
    raw = yaml.safe_load(SHIPPED.read_text())
    column = {"name": "CHANNEL", "type": "string", "allowed": ["web", "branch", "phone"], "max_null_rate": 0.1}
    raw["entity"]["columns"].append({**column, "nullable": nullable})
    return parse_contract(raw, SHIPPED)


def land(folder: Path, name: str, header: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def old_and_new_files(folder: Path, columns: list[str]) -> tuple[Path, Path]:
    """One day with a file from before the change (no CHANNEL) and one from after (CHANNEL, one value empty)."""
    old_header = ",".join(c for c in columns if c != "CHANNEL")
    old = land(folder, "old.csv", old_header, [f"{i},{VALUES}" for i in (1, 2, 3)])
    new = land(folder, "new.csv", old_header + ",CHANNEL", [f"4,{VALUES},web", f"5,{VALUES},", f"6,{VALUES},phone"])
    return old, new


def bronze_of(paths: list[Path], columns: list[str]) -> pl.DataFrame:
    return pl.concat([read_landing_file(p, columns, DAY, INGESTED)[0] for p in paths], how="vertical")


def test_a_nullable_column_that_old_files_lack_is_null_in_silver_not_quarantined(tmp_path):
    contract = contract_with_channel(nullable=True)
    columns = contract.entity.column_names
    result = validate_feed(bronze_of(list(old_and_new_files(tmp_path, columns)), columns), contract.entity)

    assert result.quarantine.height == 0, result.reason_counts()
    channel = dict(zip(result.valid["ID"].to_list(), result.valid["CHANNEL"].to_list(), strict=True))
    assert channel == {1: None, 2: None, 3: None, 4: "web", 5: None, 6: "phone"}


def test_a_required_column_that_old_files_lack_still_quarantines_their_rows(tmp_path):
    contract = contract_with_channel(nullable=False)
    columns = contract.entity.column_names
    result = validate_feed(bronze_of(list(old_and_new_files(tmp_path, columns)), columns), contract.entity)

    assert sorted(result.valid["ID"].to_list()) == [4, 6]
    by_id = {r["raw_values"]: r["reasons"] for r in result.quarantine.iter_rows(named=True)}
    assert sorted(reasons[0] for reasons in by_id.values()) == ["missing:CHANNEL"] + ["missing_column:CHANNEL"] * 3


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_reads_rows_without_a_nullable_column_and_refuses_them_without_a_required_one(tmp_path, suffix):
    columns = contract_with_channel(nullable=True).entity.column_names
    old, _ = old_and_new_files(tmp_path, columns)
    if suffix == ".parquet":
        pl.read_csv(old, infer_schema=False).write_parquet(old := old.with_suffix(".parquet"))

    optional = contract_with_channel(nullable=True)
    checked = validate_feed(read_input(old, optional, DAY), optional.entity)
    assert checked.valid.height == 3 and checked.quarantine.height == 0
    assert checked.valid["CHANNEL"].null_count() == 3

    with pytest.raises(ScoringInputError, match=r"lacks contract column\(s\) \['CHANNEL'\]"):
        read_input(old, contract_with_channel(nullable=False), DAY)


def test_a_run_over_files_without_a_nullable_column_warns_and_keeps_every_row(tmp_path):
    """End to end on the shipped contract: outcomes files from before `application_date` (nullable) was added."""
    from medallion_tests.conftest import DAY1, checks_by_day, table
    from medallion_tests.faults.conftest import HEADER, land_files, outcome, rows, run, text

    home = Settings(home=tmp_path / "home", env="local")
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 4)))})
    old = [line.rsplit(",", 1)[0] for line in (outcome(i, i % 2, DAY1, DAY1) for i in range(1, 4))]
    new = [outcome(4, 1, DAY1, DAY1)]
    land_files(
        home,
        "outcomes",
        DAY1,
        {
            "old.csv": text("ID,default_payment_next_month,outcome_date", *old),
            "new.csv": text("ID,default_payment_next_month,outcome_date,application_date", *new),
        },
    )
    result = run(home, DAY1)
    assert result.success
    header = checks_by_day(result)[("bronze/outcomes", "header_matches_contract")][DAY1.isoformat()]
    assert not header.passed and header.severity.value == "WARN" and "missing: application_date" in header.description
    outcomes = table(home, "silver.outcomes").sort("ID")
    assert outcomes["ID"].to_list() == [1, 2, 3, 4] and outcomes["application_date"].null_count() == 3
    assert table(home, "silver.quarantine").height == 0
