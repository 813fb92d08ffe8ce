"""The ETL materialized for real on a temporary MEDALLION_HOME: a 3-day single-run backfill, conservation, reruns."""

from datetime import timedelta

import polars as pl
import pytest

from medallion.definitions import build_definitions
from medallion.settings import Settings
from medallion_tests.conftest import (
    DAY1,
    LABEL,
    checks_by_day,
    checks_by_name,
    land_outcomes,
    land_reference_rows,
    run_etl,
    table,
)

ROWS_PER_DAY = 200
LAYERS = [
    "bronze.applications",
    "bronze.outcomes",
    "silver.applications",
    "silver.outcomes",
    "silver.quarantine",
    "gold.features",
    "gold.labels",
]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, reference):
    home = Settings(home=tmp_path_factory.mktemp("home"), env="local")
    parts = [
        land_reference_rows(home, reference, DAY1 + timedelta(days=i), i * ROWS_PER_DAY, ROWS_PER_DAY) for i in range(3)
    ]
    # Day 1's outcomes land on day 3: a two-day label delay.
    land_outcomes(home, parts[0], DAY1 + timedelta(days=2))
    defs = build_definitions(home)
    result = run_etl(defs, DAY1, DAY1 + timedelta(days=2))
    return home, defs, result, parts


def test_three_day_backfill_is_one_successful_run(backfilled):
    home, _, result, _ = backfilled
    assert result.success
    materialized = {}
    for event in result.get_asset_materialization_events():
        materialized.setdefault(event.asset_key.to_user_string(), set()).add(event.partition)
    expected_days = {(DAY1 + timedelta(days=i)).isoformat() for i in range(3)}
    assert materialized["bronze/applications"] == expected_days
    assert materialized["gold/features"] == expected_days
    assert materialized["gold/labels"] == expected_days


def test_every_bronze_row_is_in_silver_or_quarantine_per_day(backfilled):
    home, _, result, _ = backfilled
    bronze = table(home, "bronze.applications").group_by("partition_date").len().sort("partition_date")
    silver = table(home, "silver.applications").group_by("partition_date").len().sort("partition_date")
    assert bronze["len"].to_list() == [ROWS_PER_DAY] * 3
    assert silver["len"].to_list() == [ROWS_PER_DAY] * 3
    assert table(home, "silver.quarantine").height == 0
    conserved = checks_by_day(result)[("silver/applications", "rows_conserved")]
    assert sorted(conserved) == [str(DAY1 + timedelta(days=i)) for i in range(3)]  # one verdict per day
    assert all(e.passed and e.metadata["bronze_rows"].value == ROWS_PER_DAY for e in conserved.values())


def test_silver_values_are_the_typed_landed_values(backfilled, reference):
    home, _, _, parts = backfilled
    silver = table(home, "silver.applications").sort("ID")
    expected = pl.concat(parts).drop(LABEL).sort("ID")
    assert silver.select(expected.columns).cast(pl.Int64).equals(expected.cast(pl.Int64))
    assert silver.schema["SEX"] == pl.Int8 and silver.schema["AGE"] == pl.Int16


def test_bronze_keeps_text_and_lineage(backfilled):
    home, _, _, _ = backfilled
    bronze = table(home, "bronze.applications", "where partition_date = '2025-01-01' order by _line_number")
    assert bronze.schema["_raw_line"] == pl.String and bronze["_raw_line"].null_count() == 0
    assert bronze["_header"].null_count() == ROWS_PER_DAY  # the shipped files have the contract's header
    assert bronze["_line_number"].to_list()[:3] == [2, 3, 4]
    assert bronze["_source_file"].str.ends_with("applications/2025-01-01/applications.csv").all()
    assert bronze["_row_hash"].n_unique() == ROWS_PER_DAY
    assert bronze["_ingested_at"].null_count() == 0


def test_gold_features_and_labels(backfilled):
    home, _, result, parts = backfilled
    features = table(home, "gold.features")
    assert features.height == 3 * ROWS_PER_DAY
    assert features["feature_set_version"].unique().to_list() == ["credit-v1"]
    labels = table(home, "gold.labels")
    assert labels.height == ROWS_PER_DAY
    assert set(labels["ID"].to_list()) == set(parts[0]["ID"].to_list())
    assert (labels["label_date"] - labels["application_date"]).dt.total_days().unique().to_list() == [2]
    checks = checks_by_name(result)
    assert checks[("gold/labels", "labels_not_before_application")].passed
    assert checks[("gold/features", "feature_ranges")].passed


def test_asset_metadata_reports_counts_speed_preview_and_schema(backfilled):
    _, _, result, _ = backfilled
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "silver/applications"
    )
    metadata = event.materialization.metadata
    for key in ("run_rows_in", "run_seconds", "rows_per_second", "preview", "dagster/column_schema"):
        assert key in metadata, key
    assert metadata["run_rows_in"].value == 3 * ROWS_PER_DAY
    assert "| partition_date | ID |" in metadata["preview"].value
    assert any(c.name == "LIMIT_BAL" for c in metadata["dagster/column_schema"].schema.columns)


def test_rematerializing_a_partition_gives_identical_tables(backfilled):
    home, defs, _, _ = backfilled
    before = {name: table(home, name) for name in LAYERS}
    assert run_etl(defs, DAY1 + timedelta(days=1)).success
    for name in LAYERS:
        after = table(home, name)
        keep = [c for c in after.columns if c != "_ingested_at"]
        order = [c for c in ("partition_date", "ID", "_line_number") if c in keep]
        assert after.select(keep).sort(order).equals(before[name].select(keep).sort(order)), name


def test_each_day_of_a_ranged_run_carries_its_own_counts(backfilled):
    _, _, result, _ = backfilled
    by_day = {
        e.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "bronze/applications"
    }
    assert sorted(by_day) == [str(DAY1 + timedelta(days=i)) for i in range(3)]
    for metadata in by_day.values():
        assert metadata["rows_in"].value == metadata["rows_out"].value == ROWS_PER_DAY
        assert metadata["dagster/row_count"].value == ROWS_PER_DAY and metadata["seconds"].value > 0
        assert metadata["run_rows_in"].value == 3 * ROWS_PER_DAY  # the run's total says it is the run's
