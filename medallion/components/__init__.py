"""The project's Dagster components (registered for `dg list components` / `dg scaffold defs`)."""

from medallion.components.dataset import Dataset, datasets_in, project_datasets

__all__ = ["Dataset", "datasets_in", "project_datasets"]
