"""One ETL job per dataset: the shipped credit_default (etl_job) beside the toy_loans contract (etl_job__toy_loans) in
one Definitions on one home. Each job selects its dataset's assets and checks only, a run of one never touches the
other's, a bad header in one dataset's landing fails only its own run, and the landing sensor asks each dataset's job
for that dataset's days."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from medallion.contract import ContractError
from medallion.definitions import build_definitions
from medallion.names import ETL_LAYERS, FRESHNESS_CHECK
from medallion.settings import Settings
from medallion_tests.automation.test_landing_sensor import evaluate
from medallion_tests.conftest import (
    CREDIT_CONTRACT,
    CREDIT_ML,
    DAY1,
    land,
    run_etl,
    scaffolded_project,
    table,
    table_exists,
)

TOY = Path(__file__).resolve().parents[1] / "fixtures" / "toy_loans.yaml"
DAY2 = DAY1 + timedelta(days=1)
CREDIT_JOB, TOY_JOB = "etl_job", "etl_job__toy_loans"
CREDIT_ASSETS = {
    "bronze/applications",
    "bronze/outcomes",
    "silver/applications",
    "silver/outcomes",
    "silver/quarantine",
    "gold/features",
    "gold/labels",
}
TOY_ASSETS = {
    "bronze/loans",
    "bronze/loan_outcomes",
    "silver/loans",
    "silver/loan_outcomes",
    "silver/loans_quarantine",
    "gold/loan_features",
    "gold/loan_labels",
}
LOANS = "loan_id,amount,term_months,region\n1,1000.5,12,north\n2,250,24,\n"
OUTCOMES = "loan_id,repaid,observed_on\n1,1,2025-01-01\n"
# The credit applications file of DAY1 lacks the required AGE column: header_matches_contract fails it (ERROR).
BAD_CREDIT_HEADER = "ID,LIMIT_BAL,SEX\n1,50000,2\n"


@dataclass
class TwoDatasets:
    home: Settings
    defs: dg.Definitions
    toy: dg.ExecuteInProcessResult  # etl_job__toy_loans for DAY1, run first
    credit: dg.ExecuteInProcessResult  # etl_job for DAY1, on the bad header
    planned: dict[str, set[str]]  # run id → the assets the instance recorded it as planning to materialize


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = Settings(home=tmp_path_factory.mktemp("two_etl_jobs"))
    land(home, "applications", DAY1, "applications.csv", BAD_CREDIT_HEADER)
    land(home, "loans", DAY1, "loans.csv", LOANS)
    land(home, "loan_outcomes", DAY1, "loan_outcomes.csv", OUTCOMES)
    land(home, "loans", DAY2, "loans.csv", LOANS)  # for the sensor: a day of toy files only
    project = {"credit_default": (CREDIT_CONTRACT, CREDIT_ML), "toy_loans": (TOY, False)}
    with scaffolded_project(project) as (root, _), dg.instance_for_test() as instance:
        defs = build_definitions(home, project_root=root)
        toy = run_etl(defs, DAY1, instance=instance, job=TOY_JOB)
        credit = run_etl(defs, DAY1, instance=instance, job=CREDIT_JOB)
        planned = {
            result.run_id: {
                entry.dagster_event.asset_key.to_user_string()
                for entry in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
            }
            for result in (toy, credit)
        }
        yield TwoDatasets(home, defs, toy, credit, planned)


def selected(defs: dg.Definitions, job: str) -> tuple[set[str], set[tuple[str, str]]]:
    graph = defs.get_repository_def().get_job(job).asset_layer.asset_graph
    assets = {key.to_user_string() for key in graph.executable_asset_keys}
    return assets, {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}


def checks_on(defs: dg.Definitions, assets: set[str]) -> set[tuple[str, str]]:
    """Every check of the asset graph on these assets."""
    graph = defs.resolve_asset_graph()
    return {
        (key.asset_key.to_user_string(), key.name)
        for key in graph.asset_check_keys
        if key.asset_key.to_user_string() in assets
    }


def test_each_dataset_has_its_own_etl_job_and_daily_schedule(world):
    repository = world.defs.get_repository_def()
    assert {name for name in repository.job_names if name.startswith("etl")} == {CREDIT_JOB, TOY_JOB}
    graph = world.defs.resolve_asset_graph()
    etl_assets = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).group_name in ETL_LAYERS}
    assert etl_assets == CREDIT_ASSETS | TOY_ASSETS
    for job, assets in ((CREDIT_JOB, CREDIT_ASSETS), (TOY_JOB, TOY_ASSETS)):
        job_assets, job_checks = selected(world.defs, job)
        assert job_assets == assets, job
        # Every check on its assets but the gold freshness checks (freshness_check_job's), and none on the other's.
        assert job_checks == {check for check in checks_on(world.defs, assets) if check[1] != FRESHNESS_CHECK}, job
        for feed in [asset for asset in assets if asset.startswith("bronze/")]:
            assert {(feed, "files_arrived"), (feed, "header_matches_contract")} <= job_checks
    schedules = {schedule.name: schedule for schedule in repository.schedule_defs}
    etl_schedules = {name: schedule.job_name for name, schedule in schedules.items() if name.startswith("etl")}
    assert etl_schedules == {"etl_daily_schedule": CREDIT_JOB, "etl_daily_schedule__toy_loans": TOY_JOB}
    assert {schedules[name].cron_schedule for name in etl_schedules} == {"0 1 * * *"}
    freshness_assets, freshness_checks = selected(world.defs, "freshness_check_job")
    assert {name for _, name in freshness_checks} == {FRESHNESS_CHECK} and len(freshness_checks) == 4


def test_the_toy_run_materializes_only_its_assets_and_checks_only_them(world):
    result = world.toy
    assert result.success
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert materialized == TOY_ASSETS
    assert world.planned[result.run_id] == TOY_ASSETS
    evaluated = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert {asset for asset, _ in evaluated} <= TOY_ASSETS
    assert not {check for check in evaluated if check[0] in CREDIT_ASSETS}  # no credit files_arrived, nothing of it
    assert evaluated[("bronze/loans", "files_arrived")].passed
    assert evaluated[("bronze/loan_outcomes", "files_arrived")].passed
    assert evaluated[("bronze/loans", "header_matches_contract")].passed
    assert table(world.home, "silver.loans").height == 2 and table(world.home, "gold.loan_labels").height == 1


def test_a_bad_header_in_one_datasets_landing_fails_only_its_own_run(world):
    # The same day's credit file with the bad header was landed before the toy run, which succeeded (above).
    assert world.toy.success
    credit = world.credit
    assert not credit.success
    evaluated = {(e.asset_key.to_user_string(), e.check_name): e for e in credit.get_asset_check_evaluations()}
    header = evaluated[("bronze/applications", "header_matches_contract")]
    assert not header.passed and header.severity == dg.AssetCheckSeverity.ERROR and "missing: " in header.description
    assert {asset for asset, _ in evaluated} <= CREDIT_ASSETS
    assert world.planned[credit.run_id] == CREDIT_ASSETS
    assert not table_exists(world.home, "silver.applications")
    assert table(world.home, "silver.loans").height == 2  # the toy's tables stand


def test_the_landing_sensor_requests_each_datasets_own_job_for_its_days(world):
    sensor = world.defs.resolve_sensor_def("landing_sensor")
    assert {target.job_name for target in sensor.targets} == {CREDIT_JOB, TOY_JOB}
    data = evaluate(world.defs, world.home)
    requests = [(r.partition_key, r.job_name, r.tags["medallion/files"]) for r in data.run_requests]
    assert requests == [
        (DAY1.isoformat(), CREDIT_JOB, "1"),  # applications.csv alone: the toy's two files are not counted
        (DAY1.isoformat(), TOY_JOB, "2"),
        (DAY2.isoformat(), TOY_JOB, "1"),  # a day of toy files only asks nothing of etl_job
    ]
    for request in data.run_requests:
        assert request.tags["dagster/partition_set"] == f"{request.job_name}_partition_set"
    assert len({request.run_key for request in data.run_requests}) == 3


def test_two_contracts_with_one_name_fail_at_load_naming_both(tmp_path):
    twin = yaml.safe_load(TOY.read_text())  # the toy's name, other feeds and tables: only the job names clash
    twin["entity"]["feed"], twin["outcome"]["feed"] = "other_loans", "other_loan_outcomes"
    twin["tables"] = {key: f"other_{table_name}" for key, table_name in twin["tables"].items()}
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(twin))
    with scaffolded_project({"one": (TOY, False), "two": (tmp_path / "twin.yaml", False)}) as (root, defs_folder):
        with pytest.raises(Exception) as error:  # Dagster wraps it, naming the module that failed to build
            build_definitions(Settings(home=tmp_path / "home"), project_root=root)
    cause = error.value
    while cause is not None and not isinstance(cause, ContractError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None, "no ContractError in the chain"
    message = str(cause)
    assert "etl_job__toy_loans" in message
    assert str(defs_folder / "one" / "defs.yaml") in message and str(defs_folder / "two" / "defs.yaml") in message
