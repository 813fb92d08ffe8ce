"""A day's tables commit together: a write that fails inside silver's step leaves every silver table and the
quarantine as they were, with the cause as the error; a gold day older than the silver it was built from is refused
by the next reader, naming the days and the fix."""

import dagster as dg
import duckdb
import polars as pl

from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import DAY1, checks_by_day, table
from medallion_tests.faults.conftest import HEADER, day_after, land_files, rows, run, step_failure_message, text


def silver_of_day(home: Settings) -> dict[str, list]:
    where = f"where partition_date = '{DAY1}'"
    return {
        name: sorted(table(home, name, where).drop("_ingested_at", strict=False).rows(), key=repr)
        for name in ("silver.applications", "silver.outcomes", "silver.quarantine")
    }


def test_a_write_failing_inside_silver_changes_none_of_its_tables(tmp_path):
    home = Settings(home=tmp_path / "home", env="local")
    land_files(home, "applications", DAY1, {"a.csv": text(HEADER, *rows(range(1, 6)))})
    assert run(home, DAY1).success
    before = silver_of_day(home)
    assert len(before["silver.applications"]) == 5 and not before["silver.quarantine"]

    # A second delivery: 3 more rows and a malformed line. The quarantine's insert then fails inside the step (a
    # column whose type no longer fits, as a full disk would fail it): silver's tables were written one by one, and
    # 8 applications sat in silver while the malformed line was in neither silver nor the quarantine.
    land_files(home, "applications", DAY1, {"b.csv": text(HEADER, *rows(range(6, 9)), "not,a,record")})
    with duckdb.connect(str(home.warehouse_path)) as connection:
        connection.execute("alter table silver.quarantine alter column raw_line set data type integer")
    result = run(home, DAY1)

    assert not result.success
    message = step_failure_message(result)
    assert "Could not convert string" in message and "rollback" not in message  # the cause, not the rollback
    assert silver_of_day(home) == before  # every table of the step as it was: nothing half-written
    assert table(home, "bronze.applications").height == 9  # bronze holds the day's records, silver is re-derivable

    with duckdb.connect(str(home.warehouse_path)) as connection:  # the fix: the table's column as it should be
        connection.execute("alter table silver.quarantine alter column raw_line set data type varchar")
    healed = run(home, DAY1)
    assert healed.success
    assert checks_by_day(healed)[("silver/applications", "rows_conserved")][DAY1.isoformat()].passed
    assert table(home, "silver.applications").height == 8 and table(home, "silver.quarantine").height == 1


def reader_of_features() -> dg.AssetsDefinition:
    """A consumer of the feature store, as ml/predictions and the training set read it: through the IO manager."""

    @dg.asset(
        key=["tests", "features_reader"],
        ins={"features": dg.AssetIn(key=["gold", "features"])},
        partitions_def=build_definitions().resolve_assets_def(["gold", "features"]).partitions_def,
    )
    def features_reader(features: pl.DataFrame) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": features.height})

    return features_reader


def read_features(home: Settings, first, last) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(build_definitions(home), dg.Definitions(assets=[reader_of_features()]))
    tags = {"dagster/asset_partition_range_start": str(first), "dagster/asset_partition_range_end": str(last)}
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        asset_selection=[dg.AssetKey(["tests", "features_reader"])], tags=tags, raise_on_error=False
    )


def test_gold_older_than_its_silver_is_refused_by_its_readers_naming_the_days(tmp_path):
    home = Settings(home=tmp_path / "home", env="local")
    days = [DAY1, day_after(DAY1, 1), day_after(DAY1, 2)]
    for i, day in enumerate(days):
        land_files(home, "applications", day, {"a.csv": text(HEADER, *rows(range(10 * i + 1, 10 * i + 4)))})
    assert run(home, days[0], days[-1]).success
    assert read_features(home, days[0], days[-1]).success

    # A run that stopped after silver committed the second day and before gold did (a kill, a full disk).
    defs = build_definitions(home)
    silver = list(dg.AssetSelection.groups("silver").resolve(defs.resolve_asset_graph()))
    tags = {"dagster/asset_partition_range_start": str(days[1]), "dagster/asset_partition_range_end": str(days[1])}
    assert defs.resolve_implicit_global_asset_job_def().execute_in_process(asset_selection=silver, tags=tags).success

    refused = read_features(home, days[0], days[-1])
    assert not refused.success
    message = step_failure_message(refused)
    assert f"gold.features is older than silver.applications for 1 day(s): {days[1]}" in message
    assert f"--partition-range {days[1]}...{days[1]}" in message

    assert run(home, days[1]).success  # the rerun the message names heals it
    assert read_features(home, days[0], days[-1]).success
    assert table(home, "gold.features", f"where partition_date = '{days[1]}'").height == 3
