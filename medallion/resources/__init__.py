"""Resources: the warehouse (DuckDB IO manager and queries), the landing zone, MLflow, monitoring files, alerting;
`environments.py` maps MEDALLION_ENV to them."""
