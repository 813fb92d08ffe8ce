"""medallion: a daily-partitioned medallion ETL and credit-default ML lifecycle on Dagster."""
