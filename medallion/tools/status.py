"""`medallion status`: what is in MEDALLION_HOME, its landing folders and its DuckDB warehouse, as plain text.

Reads only: landed files are listed, the warehouse is opened read-only (never created or locked for writing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from medallion.resources.warehouse_file import WarehouseFileError, connect_read_only, is_lock_conflict
from medallion.settings import Settings
from medallion.sources.landing import landed_days, list_day_files

# medallion.partitions.PARTITION_COLUMN, not imported from there so that `medallion status` does not load dagster.
PARTITION_COLUMN = "partition_date"

UI_HINT = "make dev      → http://127.0.0.1:3000 (Dagster UI)"
MLFLOW_HINT = "make mlflow   → http://127.0.0.1:5000 (MLflow UI)"


@dataclass(frozen=True)
class FeedStatus:
    feed: str
    days: int
    files: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class TableStatus:
    name: str
    rows: int
    partitions: int | None
    first: date | None
    last: date | None


def landing_status(landing_dir: Path) -> list[FeedStatus]:
    """Every feed folder under the landing folder, with its days (folders named YYYY-MM-DD holding *.csv) and files."""
    if not landing_dir.is_dir():
        return []
    feeds = []
    for folder in sorted(p for p in landing_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        days = landed_days(landing_dir, folder.name)
        files = sum(len(list_day_files(landing_dir, folder.name, day)) for day in days)
        feeds.append(FeedStatus(folder.name, len(days), files, days[0] if days else None, days[-1] if days else None))
    return feeds


def tables_status(connection) -> list[TableStatus]:
    """Rows, partitions and first/last partition_date of every table in every schema of the connection's database
    (a DuckDB file, or a DuckLake attached and in use)."""
    tables = connection.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() order by table_schema, table_name"
    ).fetchall()
    partitioned = {
        (schema, name)
        for schema, name in connection.execute(
            "select table_schema, table_name from information_schema.columns "
            "where column_name = ? and table_catalog = current_database()",
            [PARTITION_COLUMN],
        ).fetchall()
    }
    found = []
    for schema, name in tables:
        target = f'"{schema}"."{name}"'
        if (schema, name) in partitioned:
            rows, partitions, first, last = connection.execute(
                f'select count(*), count(distinct "{PARTITION_COLUMN}"), '
                f'min("{PARTITION_COLUMN}"), max("{PARTITION_COLUMN}") from {target}'
            ).fetchone()
        else:
            (rows,), partitions, first, last = (
                connection.execute(f"select count(*) from {target}").fetchone(),
                None,
                None,
                None,
            )
        found.append(TableStatus(f"{schema}.{name}", rows, partitions, first, last))
    return found


@dataclass(frozen=True)
class ScoredRows:
    """AUC of one model version's predictions whose label is known, in-sample or out-of-sample."""

    model: str
    in_sample: bool
    rows: int
    first: date
    last: date
    auc: float | None
    low: float | None
    high: float | None


def _columns(connection, schema: str, table: str) -> list[str]:
    return [
        name
        for (name,) in connection.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def ml_schemas(connection) -> list[str]:
    """The schemas holding a dataset's ML tables (its training set comes first of them), `ml` first."""
    found = {
        schema
        for (schema,) in connection.execute(
            "select table_schema from information_schema.tables where table_name = 'training_set' "
            "and table_catalog = current_database()"
        ).fetchall()
    }
    return sorted(found, key=lambda schema: (schema != "ml", schema))


def scored_performance(connection, schema: str = "ml") -> list[ScoredRows]:
    """Predictions joined to their matured labels (key and application day), split by in_sample, with the AUC and
    its 95% DeLong interval. The label store is the gold table holding application_date, label_date and the
    predictions' key; its label is the column that is neither a key, a day nor the partition."""
    from medallion.logic.ml.evaluation import auc_standard_error
    from medallion.logic.ml.scoring import PREDICTION_SCHEMA
    from medallion.logic.monitoring.measures import roc_auc

    predictions = _columns(connection, schema, "predictions")
    keys = [c for c in predictions if c not in PREDICTION_SCHEMA]  # ml.predictions' own columns; the rest is the key
    if "in_sample" not in predictions or len(keys) != 1:
        return []
    key = keys[0]
    for (table,) in connection.execute(
        "select table_name from information_schema.tables where table_schema = 'gold' order by 1"
    ).fetchall():
        columns = connection.execute(f'select * from gold."{table}" limit 0').pl().schema
        if {"application_date", "label_date", key} <= set(columns):
            rest = [c for c, t in columns.items() if c not in (key, PARTITION_COLUMN) and not t.is_temporal()]
            if len(rest) == 1:
                break
    else:
        return []
    frame = connection.execute(
        f'select p.model_name, p.model_version, p.in_sample, p.partition_date, p.probability, l."{rest[0]}" as label '
        f'from "{schema}".predictions p join gold."{table}" l '
        f'on p."{key}" = l."{key}" and p.partition_date = l.application_date'
    ).pl()
    found = []
    for (name, version, in_sample), group in frame.group_by(["model_name", "model_version", "in_sample"]):
        y, p = group["label"].to_numpy(), group["probability"].to_numpy()
        auc = roc_auc(y, p)
        margin = 1.959964 * auc_standard_error(y, p) if auc is not None else None
        found.append(
            ScoredRows(
                f"{name} v{version}",
                bool(in_sample),
                group.height,
                group["partition_date"].min(),
                group["partition_date"].max(),
                auc,
                auc - margin if auc is not None else None,
                auc + margin if auc is not None else None,
            )
        )
    return sorted(found, key=lambda r: (r.model, r.in_sample))


def model_sections(connection) -> list[str]:
    """A `model` section per dataset with ML tables; the shipped `ml` schema's first, titled as it always was."""
    schemas = ml_schemas(connection)
    if not schemas:
        return ["", "model", "  no predictions yet: run training_job, then inference_job (`make demo` does both)"]
    lines: list[str] = []
    for schema in schemas:
        lines += ["", "model" if schema == "ml" else f"model ({schema})", *model_lines(connection, schema)]
    return lines


def model_lines(connection, schema: str = "ml") -> list[str]:
    tables = {
        f"{s}.{t}"
        for s, t in connection.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    if f"{schema}.predictions" not in tables:
        if schema != "ml":
            return ["  no predictions yet: run the dataset's training_job__<dataset>, then inference_job__<dataset>"]
        return ["  no predictions yet: run training_job, then inference_job (`make demo` does both)"]
    lines = []
    if f"{schema}.model" in tables:
        for version, candidate, auc, rows, first, last in connection.execute(
            f'select model_version, candidate, roc_auc, n_holdout, holdout_start, holdout_end from "{schema}".model '
            f'where model_version in (select distinct model_version from "{schema}".predictions) order by trained_at'
        ).fetchall():
            lines.append(
                f"  v{version} ({candidate}) holdout AUC {auc:.4f} on {rows} rows of application days "
                f"{first}..{last}, which it was not fitted, chosen or tuned on"
            )
    performance = scored_performance(connection, schema)
    if not performance:
        return [*lines, "  no prediction has a matured label yet"]
    lines.append("  predictions with matured labels, AUC with its 95% interval (DeLong):")
    for r in performance:
        kind = (
            "in-sample     (days the version was fitted, tuned or measured on: not live performance)"
            if r.in_sample
            else "out-of-sample (days the version never used: live performance)"
        )
        auc = "AUC n/a (one class)" if r.auc is None else f"AUC {r.auc:.4f} [{r.low:.4f}, {r.high:.4f}]"
        lines.append(f"    {r.model}  {auc} on {r.rows:>6} rows, days {r.first}..{r.last}  {kind}")
    return lines


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else "-"


def render_status(settings: Settings) -> str:
    lines = [
        f"MEDALLION_HOME  {settings.home}  (MEDALLION_ENV={settings.env})",
        "",
        f"landing         {settings.landing_dir}",
    ]
    feeds = landing_status(settings.landing_dir)
    if feeds:
        width = max(len(f.feed) for f in feeds)
        for f in feeds:
            lines.append(
                f"  {f.feed:<{width}}  {f.days:>5} day(s)  {f.files:>5} file(s)  "
                f"first {_day(f.first)}  last {_day(f.last)}"
            )
    else:
        lines.append(
            "  no landed files yet: drop CSV files into <feed>/<YYYY-MM-DD>/, "
            "or run `medallion replay --start 2025-01-01 --days 30`"
        )

    if settings.env == "prod":
        lines += ["", f"warehouse       DuckLake, data under {settings.lake_data_root}"]
        lines += _table_lines(lambda: _read(settings, tables_status))
    else:
        lines += ["", f"warehouse       {settings.warehouse_path}"]
        lines += _file_lines(settings)
    if settings.env == "prod" or settings.warehouse_path.exists():
        try:
            lines += _read(settings, model_sections)
        except Exception:  # the table listing above already said why
            lines += ["", "model", "  cannot be read: see the warehouse above"]
    lines += ["", f"UI              {UI_HINT}", f"MLflow          {MLFLOW_HINT}"]
    return "\n".join(line.rstrip() for line in lines)


def _read(settings: Settings, read):
    """`read(connection)` on the warehouse: the DuckDB file opened read-only, or the prod DuckLake."""
    if settings.env != "prod":
        with connect_read_only(settings.warehouse_path) as connection:
            return read(connection)
    from medallion.resources.environments import resources_for

    warehouse = resources_for(settings)["warehouse"].process_config_and_initialize()
    with warehouse.connect() as connection:
        return read(connection)


def _file_lines(settings: Settings) -> list[str]:
    lines: list[str] = []
    if not settings.warehouse_path.exists():
        lines.append("  does not exist yet: create it with `make demo` (or materialize etl_job for some days)")
    else:
        lines += _table_lines(lambda: _read(settings, tables_status))
    return lines


def _table_lines(read_tables) -> list[str]:
    lines: list[str] = []
    try:
        tables = read_tables()
    except WarehouseFileError as error:  # damaged or from another DuckDB version: no wait helps
        lines.append(f"  cannot be read: it {error.problem}")
        if error.recovery:
            lines.append(f"  recover: {error.recovery}")
    except Exception as error:  # a writer holding the lock, a catalog down
        lines.append(f"  cannot be read right now ({type(error).__name__}: {str(error).splitlines()[0]})")
        if is_lock_conflict(error):
            lines.append("  a run is writing it; try again when it has finished")
    else:
        if not tables:
            lines.append(
                "  no tables yet: materialize etl_job (`make demo`, or `dg launch --job etl_job --partition <day>`)"
            )
        else:
            width = max(len("table"), *(len(t.name) for t in tables))
            lines.append(f"  {'table':<{width}}  {'rows':>9}  {'partitions':>10}  {'first':<10}  {'last':<10}")
            for t in tables:
                partitions = "-" if t.partitions is None else str(t.partitions)
                lines.append(
                    f"  {t.name:<{width}}  {t.rows:>9}  {partitions:>10}  {_day(t.first):<10}  {_day(t.last):<10}"
                )
    return lines
