"""The real landing_sensor, evaluated against files on a temporary MEDALLION_HOME."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import dagster as dg

from medallion.definitions import build_definitions
from medallion.resources.landing import LandingZone
from medallion_tests.conftest import DAY1, land

DAY2 = DAY1 + timedelta(days=1)


def evaluate(defs: dg.Definitions, home, cursor: str | None = None) -> dg.SensorResult:
    """One tick as the daemon runs it: run requests resolved against the repository (partition keys validated)."""
    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.build_sensor_context(
        resources={"landing": LandingZone(root=str(home.landing_dir))},
        repository_def=defs.get_repository_def(),
        cursor=cursor,
    ) as context:
        return sensor.evaluate_tick(context)


def run_keys(data) -> dict[str, str]:
    return {request.partition_key: request.run_key for request in data.run_requests}


def land_two_days(home) -> None:
    for day in (DAY1, DAY2):
        land(home, "applications", day, f"applications_{day}.csv", "ID\n1\n")
        land(home, "outcomes", day, f"outcomes_{day}.csv", "ID\n1\n")


def test_no_files_skips_naming_the_landing_folder(home, defs):
    data = evaluate(defs, home)
    assert data.run_requests == []
    assert str(home.landing_dir) in data.skip_message


def test_calling_the_sensor_directly_gives_the_same_skip_reason(home, defs):
    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.build_sensor_context(resources={"landing": LandingZone(root=str(home.landing_dir))}) as context:
        result = sensor(context)
    assert result.run_requests == []
    assert str(home.landing_dir) in result.skip_reason.skip_message


def test_one_run_request_per_day_over_both_feeds(home, defs):
    land_two_days(home)
    data = evaluate(defs, home)
    assert data.skip_message is None
    assert [r.partition_key for r in data.run_requests] == [DAY1.isoformat(), DAY2.isoformat()]
    for request in data.run_requests:
        assert request.run_key.startswith(request.partition_key + ":")
        assert request.tags["dagster/partition"] == request.partition_key
        assert request.tags["medallion/files"] == "2"  # one applications and one outcomes file


def test_run_keys_are_stable_across_evaluations(home, defs):
    land_two_days(home)
    assert run_keys(evaluate(defs, home)) == run_keys(evaluate(defs, home))


def test_adding_a_file_changes_that_days_run_key_only(home, defs):
    land_two_days(home)
    before = run_keys(evaluate(defs, home))
    land(home, "applications", DAY2, "late_delivery.csv", "ID\n2\n")
    after = run_keys(evaluate(defs, home))
    assert after[DAY1.isoformat()] == before[DAY1.isoformat()]
    assert after[DAY2.isoformat()] != before[DAY2.isoformat()]


def test_hidden_or_in_progress_files_and_folders_that_are_not_days_are_ignored(home, defs):
    land_two_days(home)
    before = run_keys(evaluate(defs, home))
    land(home, "applications", DAY1, ".notes.csv.swp", "an editor's file")
    land(home, "applications", DAY1, "next.csv.part", "an upload in progress")
    (home.landing_dir / "applications" / "not-a-day").mkdir()
    (home.landing_dir / "applications" / "not-a-day" / "x.csv").write_text("ID\n1\n")
    assert run_keys(evaluate(defs, home)) == before


def test_a_file_the_pipeline_does_not_read_requests_a_run_that_fails_naming_it(home, defs):
    land_two_days(home)
    before = run_keys(evaluate(defs, home))
    land(home, "applications", DAY1, "notes.txt", "not a feed file")
    after = run_keys(evaluate(defs, home))
    assert after[DAY1.isoformat()] != before[DAY1.isoformat()] and after[DAY2.isoformat()] == before[DAY2.isoformat()]


def test_days_before_the_start_or_in_the_future_are_ignored(home, defs):
    before_start = home.start_date - timedelta(days=1)
    future = datetime.now(UTC).date() + timedelta(days=3)
    land(home, "applications", before_start, "a.csv", "ID\n1\n")
    land(home, "outcomes", future, "o.csv", "ID\n1\n")
    data = evaluate(defs, home)
    assert data.run_requests == []
    assert data.skip_message
    land(home, "applications", DAY1, "a.csv", "ID\n1\n")
    assert [r.partition_key for r in evaluate(defs, home).run_requests] == [DAY1.isoformat()]


def test_files_before_the_first_partition_day_are_named_in_a_warning_once_per_set_of_files(home, defs, capfd):
    before_start = home.start_date - timedelta(days=1)
    land(home, "applications", DAY1, "a.csv", "ID\n1\n")
    land(home, "applications", before_start, "early.csv", "ID\n1\n")
    first = evaluate(defs, home)
    (warning,) = warnings(capfd)  # the sensor's log: the console here, the tick's log in the UI
    assert f"applications/{before_start}/early.csv" in warning
    assert f"before the first partition day {home.start_date}" in warning and "MEDALLION_START_DATE" in warning
    assert [r.partition_key for r in first.run_requests] == [DAY1.isoformat()]  # the tick goes on
    second = evaluate(defs, home, cursor=first.cursor)
    assert warnings(capfd) == [] and run_keys(second) == run_keys(first)  # the same files: told once
    land(home, "outcomes", before_start - timedelta(days=3), "older.csv", "ID\n1\n")
    evaluate(defs, home, cursor=second.cursor)
    (warning,) = warnings(capfd)
    assert "2 landed file(s)" in warning and "early.csv" in warning and "older.csv" in warning


def warnings(capfd) -> list[str]:
    """The warnings logged since the last call."""
    return [line for line in capfd.readouterr().err.splitlines() if " - WARNING - " in line]


def test_files_landed_today_do_not_break_the_tick(home, defs):
    today = datetime.now(UTC).date()
    land(home, "applications", today, "a.csv", "ID\n1\n")
    land(home, "applications", DAY1, "a.csv", "ID\n1\n")
    data = evaluate(defs, home)
    assert DAY1.isoformat() in run_keys(data)


def test_the_sensor_requests_etl_job(home, defs):
    sensor = defs.resolve_sensor_def("landing_sensor")
    assert sensor.job_name == "etl_job"
    land_two_days(home)
    data = evaluate(defs, home)
    assert {r.tags["dagster/partition_set"] for r in data.run_requests} == {"etl_job_partition_set"}
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_days_after_the_end_date_are_ignored(home):
    ended = replace(home, end_date=DAY1)  # MEDALLION_END_DATE: the last partition day
    land_two_days(ended)
    assert [r.partition_key for r in evaluate(build_definitions(ended), ended).run_requests] == [DAY1.isoformat()]
