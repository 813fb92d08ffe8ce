"""Paths and knobs read from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
REFERENCE_DATASET = PROJECT_DIR / "data" / "reference" / "uci_credit_default.csv"

ENVIRONMENTS = ("local", "prod")


class SettingsError(ValueError):
    """A configuration value is missing or not one of the allowed values."""


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str

    @property
    def landing_dir(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def decisions_dir(self) -> Path:
        return self.home / "decisions"


def get_settings() -> Settings:
    """Read settings at call time so tests can point MEDALLION_HOME at a temporary folder."""
    env = os.environ.get("MEDALLION_ENV", "local")
    if env not in ENVIRONMENTS:
        raise SettingsError(f"MEDALLION_ENV={env!r} is not allowed; use one of {', '.join(ENVIRONMENTS)}")
    home = Path(os.environ.get("MEDALLION_HOME") or PROJECT_DIR / "data").resolve()
    return Settings(home=home, env=env)
