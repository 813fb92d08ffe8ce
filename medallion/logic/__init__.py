"""Plain functions over Polars frames and numpy, free of Dagster: ETL, ML and monitoring."""
