"""Settings: the only reader of the environment. Every knob is here, read once when the definitions load.

Tests, the drift demo and the CLI build a `Settings` directly (or with `Settings.from_env(environ)`) and hand it
to `build_definitions`; the defs tree reads the active one with `current_settings()`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from medallion.logic.monitoring.retrain_gate import DEFAULT_MIN_DAYS_BETWEEN_RETRAINS

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
REFERENCE_DATASET = PROJECT_DIR / "data" / "reference" / "uci_credit_default.csv"

ENVIRONMENTS = ("local", "prod")
SERVING_TARGETS = ("duckdb", "postgres", "delta")
# Read at run time by the resources through dg.EnvVar, so their values never enter the definitions' snapshot.
MLFLOW_TRACKING_URI_VAR = "MEDALLION_MLFLOW_TRACKING_URI"
ALERT_WEBHOOK_URL_VAR = "MEDALLION_ALERT_WEBHOOK_URL"
PG_URL_VAR = "MEDALLION_PG_URL"
LAKE_CATALOG_URL_VAR = "MEDALLION_LAKE_CATALOG_URL"
# Read by deploy/dagster.prod.yaml, not by the code; checked here so that one message names every missing variable.
DAGSTER_PG_URL_VAR = "MEDALLION_DAGSTER_PG_URL"
# The Celery broker the prod run launcher sends runs to and the workers take them from (Celery's own variable name,
# read by deploy/dagster.prod.yaml and by `celery worker`; not by the code).
CELERY_BROKER_URL_VAR = "CELERY_BROKER_URL"
# Days per run of a backfill of the ranged assets (ETL, predictions, serving): a whole number, or `all` for one run.
RUN_DAYS_VAR = "MEDALLION_RUN_DAYS"
ONE_RUN = "all"
DEFAULT_PROD_RUN_DAYS = 30
# Where a person opens the two UIs: links in Dagster metadata go to MLflow, MLflow runs link back to Dagster runs.
MLFLOW_UI_URL_VAR = "MEDALLION_MLFLOW_UI_URL"
DAGSTER_UI_URL_VAR = "MEDALLION_DAGSTER_UI_URL"
DEFAULT_MLFLOW_UI_URL = "http://127.0.0.1:5000"  # `make mlflow`
DEFAULT_DAGSTER_UI_URL = "http://127.0.0.1:3000"  # `make dev`
# MLflow's HTTP client retries a failing request 7 times with backoff factor 2 (about 4 minutes on a refused
# connection) and waits 120 s for an answer. This budget: 4 attempts, the second at once, the next after 2 and 4 s
# (plus up to 1 s of jitter each), so a refused connection fails in 6-8 s; an unresponsive server in about 90 s.
MLFLOW_HTTP_BUDGET = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
# Every process that loads the definitions or runs a tool starts from these, unless its environment says otherwise:
# telemetry reaches for the internet; the MLflow budget above.
PROCESS_DEFAULTS = {"DAGSTER_DISABLE_TELEMETRY": "1", "MLFLOW_DISABLE_TELEMETRY": "true", **MLFLOW_HTTP_BUDGET}


# A ranged step (a backfill as one run) reads, transforms and commits its days in slices of at most this many rows, so
# its memory holds one slice plus DuckDB's cache, whatever its range or its days' size. Slices under DuckDB's row group
# (122,880 rows) go through its write-ahead log and a checkpoint at each commit: 7-day slices of 10k-row days made a
# 90-day run's steps nearly twice as slow as one slice (52 s vs 27 s). DuckDB caches what it reads and writes up to
# its memory limit (80 % of RAM by default: a year's run then held ~1 GB of cache); past this one it evicts, or spills
# to `<warehouse>.tmp`.
DEFAULT_SLICE_ROWS = 250_000
DEFAULT_WAREHOUSE_MEMORY = "512MB"


class SettingsError(ValueError):
    """A configuration value is missing or not one of the allowed values; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    env: str = "local"
    start_date: date = date(2025, 1, 1)
    end_date: date | None = None  # the last partition day; None: partitions run to today
    retrain_min_days: int = DEFAULT_MIN_DAYS_BETWEEN_RETRAINS
    mlflow_server: bool = False
    alert_webhook: bool = False
    serving_targets: tuple[str, ...] = ("duckdb",)
    pg_url: bool = False
    delta_uri: str | None = None
    lake_catalog: bool = False
    lake_data_path: str | None = None
    slice_rows: int = DEFAULT_SLICE_ROWS  # rows a ranged step holds in memory and commits at a time
    warehouse_memory: str = DEFAULT_WAREHOUSE_MEMORY  # DuckDB's cache and working memory before it spills to disk
    dagster_pg: bool = False
    mlflow_ui_url: str = DEFAULT_MLFLOW_UI_URL
    dagster_ui_url: str = DEFAULT_DAGSTER_UI_URL
    days_per_run: int | None = None  # None: a backfill of the ranged assets is one run

    def __post_init__(self) -> None:
        blocking_file = _file_in_the_way(self.home)
        if blocking_file is not None:
            where = "is a file" if blocking_file == self.home else f"is under {blocking_file}, which is a file"
            raise SettingsError(
                f"MEDALLION_HOME={self.home} {where}; point it at a folder (created if missing), e.g. ./data"
            )
        unknown = [target for target in self.serving_targets if target not in SERVING_TARGETS]
        if unknown or not self.serving_targets:
            raise SettingsError(
                f"MEDALLION_SERVING_TARGETS={','.join(self.serving_targets)!r}: "
                f"{'unknown target ' + ', '.join(map(repr, unknown)) if unknown else 'no target'}; "
                f"use one or more of {', '.join(SERVING_TARGETS)}, comma-separated"
            )
        missing = self.missing_variables()
        if missing:
            raise SettingsError(
                f"MEDALLION_ENV={self.env} with MEDALLION_SERVING_TARGETS={','.join(self.serving_targets)} needs "
                f"{', '.join(missing)}, not set: PostgreSQL URLs are postgresql://user:password@host:port/database, "
                "the MLflow one http://host:port (`make pg-up` and `make prod-up` print them)"
            )
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"MEDALLION_ENV={self.env!r} is not allowed; use one of {', '.join(ENVIRONMENTS)}")
        if self.end_date is not None and self.end_date < self.start_date:
            raise SettingsError(
                f"MEDALLION_END_DATE={self.end_date} is before MEDALLION_START_DATE={self.start_date}; "
                "use a day on or after the start, or leave it unset for partitions up to today"
            )
        if self.days_per_run is not None and self.days_per_run < 1:
            raise SettingsError(f"{RUN_DAYS_VAR}={self.days_per_run} {RUN_DAYS_RULE}")
        if self.slice_rows < 1:
            raise SettingsError(f"MEDALLION_SLICE_ROWS={self.slice_rows} must be a whole number of rows, 1 or more")
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", self.warehouse_memory, flags=re.IGNORECASE):
            raise SettingsError(
                f"MEDALLION_WAREHOUSE_MEMORY={self.warehouse_memory!r} is not a size; use a number and a unit of KB, "
                "MB, GB or TB (or KiB, MiB, GiB, TiB), e.g. 512MB"
            )
        if self.retrain_min_days < 0:
            raise SettingsError(f"MEDALLION_RETRAIN_MIN_DAYS must be 0 or more, got {self.retrain_min_days}")
        for name, url in ((MLFLOW_UI_URL_VAR, self.mlflow_ui_url), (DAGSTER_UI_URL_VAR, self.dagster_ui_url)):
            if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
                raise SettingsError(
                    f"{name}={url!r} is not a web address; use http(s)://host:port, optionally with a path prefix"
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ

        def value(name: str) -> str | None:
            return environ.get(name) or None

        if value("MEDALLION_MODEL_NAME"):
            raise SettingsError(
                "MEDALLION_MODEL_NAME is no longer read: each dataset names its registered model with `ml.model` in "
                "its defs.yaml (medallion/defs/credit_default/defs.yaml for credit_default)"
            )
        return cls(
            home=Path(value("MEDALLION_HOME") or PROJECT_DIR / "data").resolve(),
            env=value("MEDALLION_ENV") or "local",
            start_date=_iso_date("MEDALLION_START_DATE", value("MEDALLION_START_DATE")) or cls.start_date,
            end_date=_iso_date("MEDALLION_END_DATE", value("MEDALLION_END_DATE")),
            retrain_min_days=_whole_days("MEDALLION_RETRAIN_MIN_DAYS", value("MEDALLION_RETRAIN_MIN_DAYS")),
            mlflow_server=value(MLFLOW_TRACKING_URI_VAR) is not None,
            alert_webhook=value(ALERT_WEBHOOK_URL_VAR) is not None,
            serving_targets=_targets(value("MEDALLION_SERVING_TARGETS")),
            pg_url=value(PG_URL_VAR) is not None,
            delta_uri=value("MEDALLION_DELTA_URI"),
            lake_catalog=value(LAKE_CATALOG_URL_VAR) is not None,
            lake_data_path=value("MEDALLION_LAKE_DATA_PATH"),
            slice_rows=_whole_days(
                "MEDALLION_SLICE_ROWS", value("MEDALLION_SLICE_ROWS"), DEFAULT_SLICE_ROWS, "1+", "rows"
            ),
            warehouse_memory=value("MEDALLION_WAREHOUSE_MEMORY") or DEFAULT_WAREHOUSE_MEMORY,
            dagster_pg=value(DAGSTER_PG_URL_VAR) is not None,
            mlflow_ui_url=(value(MLFLOW_UI_URL_VAR) or cls.mlflow_ui_url).rstrip("/"),
            dagster_ui_url=(value(DAGSTER_UI_URL_VAR) or cls.dagster_ui_url).rstrip("/"),
            days_per_run=_days_per_run(value(RUN_DAYS_VAR), value("MEDALLION_ENV") or "local"),
        )

    def missing_variables(self) -> list[str]:
        """The variables this environment and these targets need that are not set."""
        needed = {PG_URL_VAR: "postgres" in self.serving_targets and not self.pg_url}
        if self.env == "prod":
            needed |= {
                DAGSTER_PG_URL_VAR: not self.dagster_pg,
                LAKE_CATALOG_URL_VAR: not self.lake_catalog,
                MLFLOW_TRACKING_URI_VAR: not self.mlflow_server,
            }
        return [name for name, is_missing in needed.items() if is_missing]

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
    def local_mlflow_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def decisions_dir(self) -> Path:
        return self.home / "decisions"

    @property
    def reports_dir(self) -> Path:
        return self.home / "monitoring"

    @property
    def alerts_dir(self) -> Path:
        return self.home / "alerts"

    @property
    def lake_data_root(self) -> str:
        """Where DuckLake writes the warehouse's Parquet files in prod: MEDALLION_LAKE_DATA_PATH, else the home."""
        return self.lake_data_path or str(self.home / "lake")

    @property
    def delta_root(self) -> str:
        """Where the served Delta tables live: MEDALLION_DELTA_URI (a folder or an object-store URI), else the home."""
        return self.delta_uri or str(self.home / "serving" / "delta")


def _file_in_the_way(home: Path) -> Path | None:
    """The home itself or the nearest existing path above it, when that is not a folder (a file stands in the way)."""
    for path in (home, *home.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


def _iso_date(name: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a date; use YYYY-MM-DD, e.g. 2025-01-01") from None


def _targets(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return Settings.serving_targets
    return tuple(dict.fromkeys(target.strip().lower() for target in raw.split(",") if target.strip()))


RUN_DAYS_RULE = (
    f"is not allowed; use a whole number of days per backfill run, 1 or more, or {ONE_RUN!r} for one run per "
    f"backfill (unset: {ONE_RUN!r} locally, {DEFAULT_PROD_RUN_DAYS} in prod)"
)


def _days_per_run(raw: str | None, env: str) -> int | None:
    if raw is None:
        return DEFAULT_PROD_RUN_DAYS if env == "prod" else None
    if raw.strip().lower() == ONE_RUN:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{RUN_DAYS_VAR}={raw!r} {RUN_DAYS_RULE}") from None


def _whole_days(
    name: str,
    raw: str | None,
    default: int = DEFAULT_MIN_DAYS_BETWEEN_RETRAINS,
    rule: str = "0 disables the limit",
    unit: str = "days",
) -> int:
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} must be a whole number of {unit} ({rule})") from None


_active: ContextVar[Settings | None] = ContextVar("medallion_settings", default=None)


def current_settings() -> Settings:
    """The settings the definitions are being built with: those given to `build_definitions`, else the environment."""
    return _active.get() or Settings.from_env()


@contextmanager
def active_settings(settings: Settings) -> Iterator[Settings]:
    token = _active.set(settings)
    try:
        yield settings
    finally:
        _active.reset(token)


def set_process_defaults(overrides: Mapping[str, str] | None = None) -> None:
    """PROCESS_DEFAULTS unless the environment says otherwise, then `overrides`; called explicitly by the definitions
    and the tools, never as an import side effect."""
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ.update(overrides or {})


def configuration_fingerprint() -> tuple[tuple[str, str], ...]:
    """Every MEDALLION_ and DAGSTER_ variable of this process: the definitions built from it stay valid while this
    is unchanged."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("MEDALLION_", "DAGSTER_"))))


@contextmanager
def dagster_home(directory: str | os.PathLike) -> Iterator[str]:
    """DAGSTER_HOME set to `directory` for the duration (deploy/dagster.yaml's storage lives there), then restored."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = os.fspath(directory)
    try:
        yield os.fspath(directory)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def child_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with `overrides`, for the services a tool starts (the prod profile's processes)."""
    return {**os.environ, **overrides}
