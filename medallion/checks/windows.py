"""What every check shares: the run's days, per-day SQL aggregates, severities and result tables."""

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

import dagster as dg

from medallion.resources.warehouse import Warehouse

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
SHOWN = 20

# A check's verdict for each day it evaluated; None as the days means every day the tables hold.
Days = list[date] | None
DailyResults = dict[date, dg.AssetCheckResult]


def run_window(context) -> tuple[date, date] | None:
    """The run's first and last day, or None when the run targets no partition (then all days count)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start.date(), window.end.date() - timedelta(days=1)


def run_days(context) -> Days:
    window = run_window(context)
    if window is None:
        return None
    first, last = window
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def where_clause(days: Days, extra: str = "") -> tuple[str, list]:
    clauses, params = ([], []) if days is None else (["partition_date between ? and ?"], [min(days), max(days)])
    if extra:
        clauses.append(extra)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def per_day_counts(warehouse: Warehouse, table: str, days: Days, extra: str = "") -> dict[date, int]:
    where, params = where_clause(days, extra)
    rows = warehouse.query(f"select partition_date, count(*) as n from {table}{where} group by all", params)
    return dict(rows.iter_rows())


def per_day(warehouse: Warehouse, table: str, days: Days, selects: str, extra: str = "") -> dict[date, dict]:
    """One row of aggregates (`selects`) per stored day: {day: {name: value}}."""
    where, params = where_clause(days, extra)
    rows = warehouse.query(f"select partition_date, {selects} from {table}{where} group by partition_date", params)
    return {row.pop("partition_date"): row for row in rows.iter_rows(named=True)}


def records_by_day(frame) -> dict[date, list[dict]]:
    """A query's rows (partition_date first) as {day: [the rest of each row, by column name]}."""
    found: dict[date, list[dict]] = {}
    for row in frame.iter_rows(named=True):
        found.setdefault(row.pop("partition_date"), []).append(row)
    return found


def each_day(days: Days, found: Iterable[date], verdict: Callable[[date], dg.AssetCheckResult]) -> DailyResults:
    """`verdict` for every day of the run (or every day found when the run has no partition)."""
    return {day: verdict(day) for day in (days if days is not None else sorted(set(found)))}


def table(rows: list[Mapping], columns: Mapping[str, str]) -> dg.MetadataValue:
    """A small table for a check's metadata (`columns`: name → type), shown as a table in the UI, not JSON."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns.items()])
    records = [dg.TableRecord({name: row[name] for name in columns}) for row in rows[:SHOWN]]
    return dg.MetadataValue.table(records=records, schema=schema)
