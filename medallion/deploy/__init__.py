"""What the Dagster instance loads from this package (deploy/dagster.yaml and deploy/dagster.prod.yaml)."""
