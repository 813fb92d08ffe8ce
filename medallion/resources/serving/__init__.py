"""Serving targets: where each day's predictions and summary are loaded for applications to read."""

from medallion.resources.serving.schema import ServingError
from medallion.resources.serving.targets import Load, ServingTargets

__all__ = ["Load", "ServingError", "ServingTargets"]
