"""What the Dagster instance loads from this package in production (deploy/dagster.prod.yaml)."""
