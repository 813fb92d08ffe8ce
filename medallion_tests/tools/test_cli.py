import os
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion.settings import PROJECT_DIR, Settings
from medallion.sources.landing import APPLICATIONS, OUTCOMES, landed_days
from medallion.tools.cli import main
from medallion_tests.conftest import DAY1, land_outcomes, land_reference_rows, run_etl

VENV_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
PYTHON = str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable)


def run_module(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    return subprocess.run(
        [PYTHON, "-m", "medallion", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_replay_via_main_writes_under_home(tmp_path, capsys):
    assert (
        main(["replay", "--start", "2024-01-01", "--days", "3", "--label-delay-days", "5", "--home", str(tmp_path)])
        == 0
    )
    landing = tmp_path / "landing"
    assert landed_days(landing, APPLICATIONS) == [date(2024, 1, d) for d in (1, 2, 3)]
    assert landed_days(landing, OUTCOMES) == [date(2024, 1, d) for d in (6, 7, 8)]
    out = capsys.readouterr().out
    assert "30000 rows over 3 day(s)" in out and str(landing / APPLICATIONS) in out


def test_generate_via_main_defaults_home_to_settings(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path))
    argv = ["generate", "--start", "2024-02-01", "--days", "2", "--rows-per-day", "50"]
    assert main([*argv, "--drift-from", "2024-02-02", "--faults", "0.1", "--seed", "3"]) == 0
    frame = pl.read_csv(
        tmp_path / "landing" / APPLICATIONS / "2024-02-01" / "applications_2024-02-01.csv", infer_schema=False
    )
    assert frame.height == 50
    assert "100 rows over 2 day(s)" in capsys.readouterr().out


def test_conflicting_rerun_fails_with_a_message(tmp_path, capsys):
    argv = ["generate", "--start", "2024-02-01", "--days", "1", "--rows-per-day", "20", "--home", str(tmp_path)]
    assert main(argv) == 0
    assert main([*argv, "--seed", "9"]) == 1
    assert "already exists with different content" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, option",
    [
        (["replay", "--start", "2024-13-01", "--days", "2"], "--start"),
        (["replay", "--start", "01/02/2024", "--days", "2"], "--start"),
        (["replay", "--start", "2024-01-01", "--days", "0"], "--days"),
        (["generate", "--start", "2024-01-01", "--days", "1", "--rows-per-day", "5", "--faults", "1.5"], "--faults"),
        (
            ["generate", "--start", "2024-01-01", "--days", "1", "--rows-per-day", "5", "--drift-from", "soon"],
            "--drift-from",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(argv, option, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--home", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err
    assert not (tmp_path / "landing").exists()


def test_python_dash_m_medallion_replay(tmp_path):
    result = run_module("replay", "--start", "2024-01-01", "--days", "2", "--home", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "replay: 30000 rows over 2 day(s)" in result.stdout
    files = sorted((tmp_path / "landing").rglob("*.csv"))
    assert [f.name for f in files] == [
        "applications_2024-01-01.csv",
        "applications_2024-01-02.csv",
        "outcomes_2024-01-01.csv",
        "outcomes_2024-01-02.csv",
    ]


def test_python_dash_m_medallion_bad_start_exits_2(tmp_path):
    result = run_module("replay", "--start", "2024-1-1x", "--days", "2", "--home", str(tmp_path))
    assert result.returncode == 2
    assert "--start" in result.stderr and "YYYY-MM-DD" in result.stderr


# --- medallion status ---------------------------------------------------------------------------------------


def status_lines(home, capsys) -> list[str]:
    assert main(["status", "--home", str(home)]) == 0
    return capsys.readouterr().out.splitlines()


def test_status_on_an_empty_home_says_how_to_create_the_warehouse(tmp_path, capsys):
    out = "\n".join(status_lines(tmp_path / "home", capsys))
    assert f"MEDALLION_HOME  {tmp_path / 'home'}" in out
    assert "no landed files yet" in out
    assert f"warehouse       {tmp_path / 'home' / 'warehouse.duckdb'}" in out
    assert "does not exist yet" in out and "make demo" in out
    assert "make dev" in out and "http://127.0.0.1:3000" in out
    assert "make mlflow" in out and "http://127.0.0.1:5000" in out
    assert not (tmp_path / "home" / "warehouse.duckdb").exists()  # status never creates it


def test_status_reports_feeds_and_every_warehouse_table(tmp_path, capsys, reference):
    home = Settings(home=tmp_path / "home", env="local")
    day2 = DAY1 + timedelta(days=1)
    first = land_reference_rows(home, reference, DAY1, 0, 20)
    land_reference_rows(home, reference, day2, 20, 30)
    land_reference_rows(home, reference, day2, 50, 5, name="late.csv")
    land_outcomes(home, first, day2)
    assert run_etl(build_definitions(home), DAY1, day2).success
    lines = status_lines(home.home, capsys)
    by_name = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("  ")}
    assert by_name["applications"] == ["2", "day(s)", "3", "file(s)", "first", "2025-01-01", "last", "2025-01-02"]
    assert by_name["outcomes"] == ["1", "day(s)", "1", "file(s)", "first", "2025-01-02", "last", "2025-01-02"]
    assert by_name["bronze.applications"] == ["55", "2", "2025-01-01", "2025-01-02"]
    assert by_name["silver.applications"] == ["55", "2", "2025-01-01", "2025-01-02"]
    assert by_name["gold.labels"] == ["20", "1", "2025-01-02", "2025-01-02"]
    assert by_name["silver.quarantine"] == ["0", "0", "-", "-"]
    assert {"bronze.outcomes", "silver.outcomes", "gold.features"} <= set(by_name)


def test_status_shows_tables_without_partition_date_and_other_schemas(tmp_path, capsys):
    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
        connection.execute("create schema ml; create table ml.registry as select 1 as version union all select 2")
    by_name = {line.split()[0]: line.split()[1:] for line in status_lines(home, capsys) if line.startswith("  ")}
    assert by_name["ml.registry"] == ["2", "-", "-", "-"]


def test_status_while_a_writer_holds_the_warehouse(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
        connection.execute("create table t as select 1 as x")
        result = run_module("status", "--home", str(home))
    assert result.returncode == 0, result.stderr
    assert "cannot be read right now" in result.stdout and "try again" in result.stdout


def test_status_uses_medallion_home_by_default(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDALLION_HOME", str(tmp_path / "elsewhere"))
    assert main(["status"]) == 0
    assert f"MEDALLION_HOME  {tmp_path / 'elsewhere'}" in capsys.readouterr().out


def test_pg_up_starts_a_server_on_loopback_prints_its_url_and_pg_down_stops_it(capsys):
    import shutil
    import tempfile

    import psycopg2

    from medallion.tools.local_postgres import free_port

    folder = tempfile.mkdtemp(prefix="medallion-pg-cli-")  # outside pytest's root-only tmp, for the postgres user
    port = str(free_port())
    try:
        assert main(["pg-up", "--dir", folder, "--port", port]) == 0
        url = capsys.readouterr().out.split("MEDALLION_PG_URL='")[1].split("'")[0]
        assert url.startswith("postgresql://postgres:") and url.endswith(f"@127.0.0.1:{port}/medallion")
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("select current_database(), inet_server_addr()::text")
            assert cursor.fetchone() == ("medallion", "127.0.0.1/32")
        connection.close()
        assert main(["pg-up", "--dir", folder, "--port", port]) == 0  # already up: the same URL again
        assert url in capsys.readouterr().out
    finally:
        assert main(["pg-down", "--dir", folder]) == 0
        shutil.rmtree(folder, ignore_errors=True)
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(url, connect_timeout=3)


def test_score_chooses_the_dataset_or_says_which_to_choose():
    from medallion.tools.score import ScoringInputError, choose_dataset

    assert choose_dataset({"credit_default": True, "toy_loans": False}, None) == "credit_default"
    assert choose_dataset({"credit_default": True, "toy_loans": False}, "toy_loans") == "toy_loans"
    with pytest.raises(
        ScoringInputError, match=r"2 datasets declare ML \(credit_default, toy_cards\); choose one with"
    ):
        choose_dataset({"toy_cards": True, "credit_default": True}, None)
    with pytest.raises(
        ScoringInputError, match=r"--dataset 'nope' is not a dataset .*one of credit_default, toy_cards"
    ):
        choose_dataset({"toy_cards": True, "credit_default": True}, "nope")
    with pytest.raises(ScoringInputError, match=r"no dataset declares ML \(`ml: true` .*one of toy_loans"):
        choose_dataset({"toy_loans": False}, None)


def test_score_errors_name_the_dataset(tmp_path, capsys):
    argv = ["score", "--model", "models:/credit_default@champion", "--input", str(tmp_path / "missing.csv")]
    assert main([*argv, "--output", str(tmp_path / "out.parquet"), "--home", str(tmp_path / "home")]) == 1
    assert "medallion score: error: dataset credit_default: " in capsys.readouterr().err
    assert main([*argv, "--output", str(tmp_path / "o.parquet"), "--dataset", "nope"]) == 1
    assert "--dataset 'nope' is not a dataset of this project; choose one of credit_default" in capsys.readouterr().err


def test_launch_records_the_run_as_one_of_the_code_location(tmp_path, monkeypatch, reference, capsys):
    import dagster as dg

    home = Settings(home=tmp_path / "home")
    for i in range(2):
        land_reference_rows(home, reference, DAY1 + timedelta(days=i), i * 50, 50)
    (tmp_path / "dagster_home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("MEDALLION_HOME", str(home.home))
    last = DAY1 + timedelta(days=1)
    argv = ["launch", "etl_job", "--start", str(DAY1), "--end", str(last), "--tag", "medallion/trigger=test"]
    assert main(argv) == 0
    assert f"etl_job {DAY1}...{last}: SUCCESS" in capsys.readouterr().out
    with dg.DagsterInstance.get() as instance:
        [run] = instance.get_runs()
    tags = run.tags_for_storage()
    assert tags[".dagster/repository"] == "__repository__@medallion"  # what the job's Runs tab filters on
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        str(DAY1),
        str(last),
    )
    assert tags["medallion/trigger"] == "test" and tags["medallion/stage"] == "etl"
    assert duckdb.connect(str(home.warehouse_path), read_only=True).sql(
        "select count(*) from silver.applications"
    ).fetchone() == (100,)


def test_launch_with_a_malformed_tag_names_it(capsys):
    assert main(["launch", "etl_job", "--start", "2025-01-01", "--tag", "trigger"]) == 1
    assert "--tag 'trigger': expected KEY=VALUE" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as `postgres` only when started by root")
def test_a_server_under_a_folder_postgres_cannot_enter_names_that_folder():
    import shutil
    import tempfile
    from pathlib import Path

    from medallion.tools.local_postgres import LocalPostgres, LocalPostgresError, free_port

    closed = Path(tempfile.mkdtemp(prefix="medallion-closed-"))  # 0700, owned by root, in /tmp which anyone enters
    try:
        with pytest.raises(LocalPostgresError, match=f"cannot enter {closed} \\(mode 700\\).*chmod o\\+x {closed}"):
            LocalPostgres(closed / "prod" / "postgres", free_port()).start()
    finally:
        shutil.rmtree(closed, ignore_errors=True)
