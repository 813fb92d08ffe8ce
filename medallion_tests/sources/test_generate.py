from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from medallion.settings import REFERENCE_DATASET
from medallion.sources.generate import generate
from medallion.sources.landing import (
    APPLICATION_COLUMNS,
    APPLICATIONS,
    LABEL,
    OUTCOMES,
    LandingConflictError,
    landed_days,
    list_day_files,
)

START = date(2024, 5, 1)
CATEGORICAL = ["SEX", "EDUCATION", "MARRIAGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]


def read_day(landing: Path, feed: str, day: date, as_text: bool = False) -> pl.DataFrame:
    [path] = list_day_files(landing, feed, day)
    return pl.read_csv(path, infer_schema=not as_text)


def read_joined(landing: Path, days: list[date]) -> pl.DataFrame:
    applications = pl.concat([read_day(landing, APPLICATIONS, d) for d in days])
    outcomes = pl.concat([read_day(landing, OUTCOMES, d + timedelta(days=30)) for d in days])
    return applications.join(outcomes.select("ID", LABEL), on="ID", how="inner")


def test_rows_schema_ids_and_labels(tmp_path):
    summary = generate(tmp_path, START, days=3, rows_per_day=500, seed=1)
    assert (summary.days, summary.rows, summary.files_written) == (3, 1500, 6)
    days = [START + timedelta(days=i) for i in range(3)]
    assert landed_days(tmp_path, APPLICATIONS) == days
    frames = []
    for day in days:
        [path] = list_day_files(tmp_path, APPLICATIONS, day)
        assert path.read_text().splitlines()[0] == ",".join(APPLICATION_COLUMNS)
        frame = pl.read_csv(path)
        assert frame.height == 500 and all(dtype == pl.Int64 for dtype in frame.dtypes)
        outcomes = pl.read_csv(list_day_files(tmp_path, OUTCOMES, day + timedelta(days=30))[0], try_parse_dates=True)
        assert outcomes["ID"].to_list() == frame["ID"].to_list()
        assert outcomes["outcome_date"].unique().to_list() == [day + timedelta(days=30)]
        frames.append(frame)
    ids = pl.concat(frames)["ID"]
    assert ids.n_unique() == 1500 and ids.min() > 30_000


def test_rows_keep_reference_codes_and_labels(tmp_path):
    generate(tmp_path, START, days=2, rows_per_day=2000, seed=2)
    generated = read_joined(tmp_path, [START, START + timedelta(days=1)])
    reference = pl.read_csv(REFERENCE_DATASET).rename({"default payment next month": LABEL})
    known = reference.select(*CATEGORICAL, LABEL).unique()
    assert generated.join(known, on=[*CATEGORICAL, LABEL], how="anti").is_empty()
    assert abs(generated[LABEL].mean() - 0.2212) < 0.03
    assert abs(generated["LIMIT_BAL"].mean() / reference["LIMIT_BAL"].mean() - 1) < 0.1
    assert generated["LIMIT_BAL"].min() >= 10_000 and generated["PAY_AMT1"].min() >= 0


def test_same_arguments_give_identical_files_and_other_seed_conflicts(tmp_path):
    generate(tmp_path, START, days=2, rows_per_day=300, faults=0.2, drift_from=START, seed=4)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.csv")}
    summary = generate(tmp_path, START, days=2, rows_per_day=300, faults=0.2, drift_from=START, seed=4)
    assert (summary.files_written, summary.files_unchanged) == (0, 4)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.csv")} == before
    with pytest.raises(LandingConflictError):
        generate(tmp_path, START, days=2, rows_per_day=300, seed=5)


def test_day_by_day_runs_reproduce_a_multi_day_run(tmp_path):
    generate(tmp_path / "all", START, days=3, rows_per_day=200, faults=0.1, seed=3)
    for i in range(3):
        generate(tmp_path / "daily", START + timedelta(days=i), days=1, rows_per_day=200, faults=0.1, seed=3)
    files = sorted(p.relative_to(tmp_path / "all") for p in (tmp_path / "all").rglob("*.csv"))
    assert files == sorted(p.relative_to(tmp_path / "daily") for p in (tmp_path / "daily").rglob("*.csv"))
    assert all((tmp_path / "all" / f).read_bytes() == (tmp_path / "daily" / f).read_bytes() for f in files)


def test_drift_shifts_features_and_labels_from_drift_from_only(tmp_path):
    drift_from = START + timedelta(days=2)
    generate(tmp_path, START, days=4, rows_per_day=3000, drift_from=drift_from, seed=6)
    before = read_joined(tmp_path, [START, START + timedelta(days=1)])
    after = read_joined(tmp_path, [drift_from, drift_from + timedelta(days=1)])
    clean = tmp_path / "clean"
    generate(clean, START, days=2, rows_per_day=3000, seed=6)
    assert before.equals(read_joined(clean, [START, START + timedelta(days=1)]))
    assert after["LIMIT_BAL"].mean() < 0.7 * before["LIMIT_BAL"].mean()
    assert after["BILL_AMT1"].mean() > 1.3 * before["BILL_AMT1"].mean()
    assert after["PAY_0"].mean() > before["PAY_0"].mean() + 0.25
    assert after["AGE"].mean() < before["AGE"].mean() - 3
    assert after[LABEL].mean() > before[LABEL].mean() + 0.08


def fault_kinds(frame: pl.DataFrame) -> dict[str, pl.Series]:
    """Per-row flags for each fault kind, from a day read as text."""
    values = [c for c in APPLICATION_COLUMNS if c != "ID"]
    as_int = frame.select(pl.col(c).cast(pl.Int64, strict=False) for c in values)
    non_numeric = pl.any_horizontal(frame[c].is_not_null() & as_int[c].is_null() for c in values)
    empty = pl.any_horizontal(frame[c].is_null() for c in values)
    out_of_range = as_int.select(
        (pl.col("AGE") > 100)
        | ~pl.col("SEX").is_in([1, 2])
        | (pl.col("EDUCATION") > 6)
        | (pl.col("MARRIAGE") > 3)
        | (pl.col("PAY_0") > 9)
        | (pl.col("LIMIT_BAL") < 1)
    ).to_series()
    duplicate = frame["ID"].is_duplicated() & ~frame["ID"].is_first_distinct()
    return {
        "non_numeric": frame.select(non_numeric).to_series(),
        "empty": frame.select(empty).to_series(),
        "out_of_range": out_of_range.fill_null(False),
        "duplicate": duplicate,
    }


def test_faults_honour_the_rate_and_every_kind_occurs(tmp_path):
    generate(tmp_path, START, days=2, rows_per_day=5000, faults=0.1, seed=7)
    days = [START, START + timedelta(days=1)]
    applications = pl.concat([read_day(tmp_path, APPLICATIONS, d, as_text=True) for d in days])
    assert applications.height == 10_000
    kinds = fault_kinds(applications)
    counts = {kind: int(flags.sum()) for kind, flags in kinds.items()}
    assert all(count > 150 for count in counts.values()), counts
    faulty_rows = int(pl.DataFrame(kinds).select(pl.any_horizontal(pl.all())).to_series().sum())
    assert 800 < faulty_rows < 1200, counts
    outcomes = pl.concat([read_day(tmp_path, OUTCOMES, d + timedelta(days=30)) for d in days])
    assert outcomes["ID"].n_unique() == outcomes.height
    assert sorted(outcomes["ID"].to_list()) == sorted(applications["ID"].cast(pl.Int64).unique().to_list())


def test_rejects_impossible_arguments(tmp_path):
    with pytest.raises(ValueError, match="faults"):
        generate(tmp_path, START, days=1, rows_per_day=10, faults=1.5)
    with pytest.raises(ValueError, match="rows_per_day"):
        generate(tmp_path, START, days=1, rows_per_day=0)
    with pytest.raises(ValueError, match="days"):
        generate(tmp_path, START, days=0, rows_per_day=10)
