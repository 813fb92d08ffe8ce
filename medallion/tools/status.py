"""`medallion status`: what is in MEDALLION_HOME, its landing folders and its DuckDB warehouse, as plain text.

Reads only: landed files are listed, the warehouse is opened read-only (never created or locked for writing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

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


def warehouse_status(warehouse: Path) -> list[TableStatus]:
    """Rows, partitions and first/last partition_date of every table in every schema; opens the file read-only."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return tables_status(connection)


def tables_status(connection) -> list[TableStatus]:
    """`warehouse_status` over an open connection: a DuckDB file, or a DuckLake attached and in use."""
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
        lines += _table_lines(lambda: _lake_tables(settings))
    else:
        lines += ["", f"warehouse       {settings.warehouse_path}"]
        lines += _file_lines(settings)
    lines += ["", f"UI              {UI_HINT}", f"MLflow          {MLFLOW_HINT}"]
    return "\n".join(line.rstrip() for line in lines)


def _lake_tables(settings: Settings) -> list[TableStatus]:
    from medallion.resources.environments import resources_for

    warehouse = resources_for(settings)["warehouse"].process_config_and_initialize()
    with warehouse.connect() as connection:
        return tables_status(connection)


def _file_lines(settings: Settings) -> list[str]:
    lines: list[str] = []
    if not settings.warehouse_path.exists():
        lines.append("  does not exist yet: create it with `make demo` (or materialize etl_job for some days)")
    else:
        lines += _table_lines(lambda: warehouse_status(settings.warehouse_path))
    return lines


def _table_lines(read_tables) -> list[str]:
    lines: list[str] = []
    try:
        tables = read_tables()
    except Exception as error:  # a writer holding the lock, a file from another DuckDB version, a catalog down
        lines.append(f"  cannot be read right now ({type(error).__name__}: {str(error).splitlines()[0]})")
        lines.append("  a run may be writing it; try again when it has finished")
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
