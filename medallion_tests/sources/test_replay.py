from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from medallion.settings import REFERENCE_DATASET
from medallion.sources.landing import (
    APPLICATION_COLUMNS,
    APPLICATIONS,
    LABEL,
    OUTCOMES,
    LandingConflictError,
    day_dir,
    landed_days,
    list_day_files,
    write_day_file_once,
)
from medallion.sources.replay import replay

START = date(2024, 3, 1)
DAYS = 7
DELAY = 30


@pytest.fixture(scope="module")
def reference() -> pl.DataFrame:
    return pl.read_csv(REFERENCE_DATASET).rename({"default payment next month": LABEL})


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    landing_dir = tmp_path_factory.mktemp("landing")
    summary = replay(landing_dir, START, DAYS, label_delay_days=DELAY)
    assert (summary.days, summary.rows, summary.files_written) == (DAYS, 30_000, 2 * DAYS)
    assert summary.last_outcome_day == START + timedelta(days=DAYS - 1 + DELAY)
    return landing_dir


def application_days() -> list[date]:
    return [START + timedelta(days=i) for i in range(DAYS)]


def read_feed(landing_dir: Path, feed: str) -> pl.DataFrame:
    files = [f for day in landed_days(landing_dir, feed) for f in list_day_files(landing_dir, feed, day)]
    return pl.concat([pl.read_csv(f, try_parse_dates=True) for f in files])


def test_every_reference_row_lands_exactly_once_with_its_values(landing, reference):
    applications = read_feed(landing, APPLICATIONS)
    assert applications.columns == list(APPLICATION_COLUMNS)
    assert applications["ID"].sort().to_list() == reference["ID"].sort().to_list()
    assert applications.sort("ID").equals(reference.select(APPLICATION_COLUMNS).sort("ID"))


def test_days_get_equal_shares_of_random_looking_rows(landing):
    assert landed_days(landing, APPLICATIONS) == application_days()
    heights = [pl.read_csv(list_day_files(landing, APPLICATIONS, d)[0]).height for d in application_days()]
    assert max(heights) - min(heights) <= 1
    first_day = pl.read_csv(list_day_files(landing, APPLICATIONS, START)[0])
    assert first_day["ID"].max() - first_day["ID"].min() > 25_000
    assert first_day["ID"].is_sorted()


def test_outcomes_land_delay_days_later_with_reference_labels(landing, reference):
    for day in application_days():
        outcome_day = day + timedelta(days=DELAY)
        [outcome_file] = list_day_files(landing, OUTCOMES, outcome_day)
        assert outcome_file.name == f"outcomes_{day.isoformat()}.csv"
        outcomes = pl.read_csv(outcome_file, try_parse_dates=True)
        assert outcomes.columns == ["ID", LABEL, "outcome_date", "application_date"]
        assert outcomes["outcome_date"].unique().to_list() == [outcome_day]
        assert outcomes["application_date"].unique().to_list() == [day]
        applications = pl.read_csv(list_day_files(landing, APPLICATIONS, day)[0])
        assert outcomes["ID"].to_list() == applications["ID"].to_list()
        expected = outcomes.select("ID").join(reference.select("ID", LABEL), on="ID", how="left")
        assert outcomes[LABEL].to_list() == expected[LABEL].to_list()


def test_second_run_is_byte_identical_and_leaves_files_untouched(landing):
    files = sorted(landing.rglob("*.csv"))
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in files}
    summary = replay(landing, START, DAYS, label_delay_days=DELAY)
    assert (summary.files_written, summary.files_unchanged) == (0, 2 * DAYS)
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in sorted(landing.rglob("*.csv"))} == before
    assert not [p for p in landing.rglob("*") if p.is_file() and p.suffix != ".csv"]


def test_refuses_to_overwrite_different_content(tmp_path):
    replay(tmp_path, START, DAYS)
    with pytest.raises(LandingConflictError, match=f"applications_{START.isoformat()}.csv"):
        replay(tmp_path, START, DAYS - 2)


def test_rejects_impossible_arguments(tmp_path):
    with pytest.raises(ValueError, match="days"):
        replay(tmp_path, START, 0)
    with pytest.raises(ValueError, match="label_delay_days"):
        replay(tmp_path, START, 3, label_delay_days=-1)


def test_write_day_file_once_leaves_identical_bytes_alone_and_refuses_different_ones(tmp_path):
    frame = pl.DataFrame({"ID": [1, 2], "AMOUNT": [-5, 1_000_000]})
    assert write_day_file_once(tmp_path, "feed", START, frame, "part.csv")
    path = day_dir(tmp_path, "feed", START) / "part.csv"
    assert path.read_text() == "ID,AMOUNT\n1,-5\n2,1000000\n"
    mtime = path.stat().st_mtime_ns
    assert not write_day_file_once(tmp_path, "feed", START, frame, "part.csv")
    assert path.stat().st_mtime_ns == mtime
    with pytest.raises(LandingConflictError, match="part.csv"):
        write_day_file_once(tmp_path, "feed", START, frame.head(1), "part.csv")
    assert path.read_text() == "ID,AMOUNT\n1,-5\n2,1000000\n"
    assert [p.name for p in path.parent.iterdir()] == ["part.csv"]


def test_landed_days_skips_non_dates_and_folders_without_files_to_take_up(tmp_path):
    frame = pl.DataFrame({"ID": [1]})
    write_day_file_once(tmp_path, "feed", date(2024, 1, 2), frame, "b.csv")
    write_day_file_once(tmp_path, "feed", date(2024, 1, 2), frame, "a.csv")
    write_day_file_once(tmp_path, "feed", date(2024, 1, 1), frame, "a.csv")
    (tmp_path / "feed" / "2024-01-03").mkdir()
    (tmp_path / "feed" / "2024-01-04").mkdir()
    (tmp_path / "feed" / "2024-01-04" / ".notes.csv").write_text("hidden")
    (tmp_path / "feed" / "2024-01-04" / "upload.csv.part").write_text("in progress")
    (tmp_path / "feed" / "2024-01-05").mkdir()
    (tmp_path / "feed" / "2024-01-05" / "notes.txt").write_text("refused: its run fails naming it")
    (tmp_path / "feed" / "not-a-day").mkdir()
    (tmp_path / "feed" / "not-a-day" / "x.csv").write_text("ID\n1\n")
    assert landed_days(tmp_path, "feed") == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 5)]
    assert [p.name for p in list_day_files(tmp_path, "feed", date(2024, 1, 2))] == ["a.csv", "b.csv"]
    assert list_day_files(tmp_path, "feed", date(2024, 1, 6)) == []
    assert landed_days(tmp_path, "missing") == []
