"""A frame with new columns (a feature-set change) widens its stored table; the older rows stay readable."""

from datetime import date

import dagster as dg
import polars as pl

from medallion.resources.environments import resources_for
from medallion_tests.conftest import table

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01")


def stored_asset(columns: dict[str, list]) -> dg.AssetsDefinition:
    @dg.asset(key=["gold", "evolving"], partitions_def=DAYS, metadata={"partition_expr": "partition_date"})
    def evolving(context: dg.AssetExecutionContext) -> pl.DataFrame:
        day = date.fromisoformat(context.partition_key)
        return pl.DataFrame({"partition_date": [day, day], **columns})

    return evolving


def test_new_columns_are_added_and_old_rows_keep_null(home):
    io_manager = {"io_manager": resources_for(home)["io_manager"]}
    old = stored_asset({"id": [1, 2], "amount": [1.0, 2.0]})
    assert dg.materialize([old], resources=io_manager, partition_key="2025-01-01").success
    new = stored_asset({"id": [3, 4], "amount": [3.0, 4.0], "region": [0.0, 1.0], "label": ["a", "b"]})
    assert dg.materialize([new], resources=io_manager, partition_key="2025-01-02").success
    assert dg.materialize([new], resources=io_manager, partition_key="2025-01-02").success  # a rerun replaces its day
    stored = table(home, "gold.evolving", "order by id")
    assert stored.columns == ["partition_date", "id", "amount", "region", "label"]
    assert stored.schema["region"] == pl.Float64 and stored.schema["label"] == pl.String
    assert stored.select("id", "region", "label").rows() == [
        (1, None, None),
        (2, None, None),
        (3, 0.0, "a"),
        (4, 1.0, "b"),
    ]
