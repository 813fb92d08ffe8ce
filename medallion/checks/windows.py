"""What every check shares: the run's days as a SQL filter, per-day counts, severities."""

from datetime import date, timedelta

import dagster as dg

from medallion.resources.warehouse import Warehouse

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
SHOWN = 20


def run_window(context) -> tuple[date, date] | None:
    """The run's first and last day, or None when the run targets no partition (then all days count)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window.start.date(), window.end.date() - timedelta(days=1)


def where_clause(context, extra: str = "") -> tuple[str, list]:
    window = run_window(context)
    clauses, params = ([], []) if window is None else (["partition_date between ? and ?"], list(window))
    if extra:
        clauses.append(extra)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def per_day_counts(warehouse: Warehouse, table: str, context, extra: str = "") -> dict:
    where, params = where_clause(context, extra)
    rows = warehouse.query(f"select partition_date, count(*) as n from {table}{where} group by all", params)
    return {d.isoformat(): n for d, n in rows.iter_rows()}
