"""Data-quality checks of every layer, derived from the contract; each reads the stored tables for the run's days."""

from datetime import date

import dagster as dg

from medallion.checks.steps import Check, check, one_step_per_asset
from medallion.checks.windows import ERROR, SHOWN, WARN, per_day_counts, run_window, where_clause
from medallion.contract import Contract, FeedSpec
from medallion.logic.etl.feature_sets import FeatureSet
from medallion.names import (
    BRONZE,
    COMPLETENESS,
    FEATURE_NULL_RATES,
    FEATURE_RANGES,
    FILES_ARRIVED,
    GOLD,
    HEADER_MATCHES_CONTRACT,
    KEY_UNIQUE,
    LABELS_NOT_BEFORE_APPLICATION,
    OUTCOMES_MATCHED,
    QUARANTINE_RATE,
    ROWS_CONSERVED,
    SILVER,
    VALIDITY,
    table_key,
)
from medallion.resources.landing import LandingZone
from medallion.resources.warehouse import Warehouse
from medallion.utils.dates import date_range


def _bronze_checks(feed: FeedSpec) -> list[Check]:
    table = f"bronze.{feed.name}"

    @check(
        asset=table_key(BRONZE, feed.name),
        name=FILES_ARRIVED,
        description=f"Each day of the run has at least one non-empty file in landing/{feed.name}/<day>/.",
    )
    def files_arrived(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, landing: LandingZone
    ) -> dg.AssetCheckResult:
        rows = per_day_counts(warehouse, table, context)
        window = run_window(context)
        days = list(rows) if window is None else [d.isoformat() for d in date_range(*window)]
        empty_days = [d for d in days if rows.get(d, 0) == 0]
        files = {d: len(landing.files(feed.name, date.fromisoformat(d))) for d in empty_days[:SHOWN]}
        return dg.AssetCheckResult(
            passed=not empty_days,
            severity=WARN,
            description=f"{len(empty_days)} of {len(days)} day(s) without rows" if empty_days else None,
            metadata={
                "days_checked": len(days),
                "days_without_rows": empty_days[:SHOWN],
                "files_on_those_days": files,
                "rows": sum(rows.values()),
            },
        )

    @check(
        asset=table_key(BRONZE, feed.name),
        name=HEADER_MATCHES_CONTRACT,
        blocking=True,
        description="Every file's header has the contract's columns: a missing column is an error (blocks silver), "
        "an extra one a warning (its values are kept in _extra_values).",
    )
    def header_matches_contract(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context, "_header_issue is not null")
        issues = warehouse.query(f"select distinct _source_file, _header_issue from {table}{where} order by 1", params)
        by_file = dict(issues.iter_rows())
        missing = {f: i for f, i in by_file.items() if "missing:" in i}
        return dg.AssetCheckResult(
            passed=not by_file,
            severity=ERROR if missing else WARN,
            description="; ".join(f"{f}: {i}" for f, i in list(by_file.items())[:5]) or None,
            metadata={"expected_columns": feed.column_names, "files_with_issues": dict(list(by_file.items())[:SHOWN])},
        )

    return [files_arrived, header_matches_contract]


def _silver_checks(contract: Contract, feed: FeedSpec) -> list[Check]:
    asset = table_key(SILVER, feed.name)
    table, quarantine = f"silver.{feed.name}", f"silver.{contract.quarantine_table}"

    @check(
        asset=asset,
        name=ROWS_CONSERVED,
        blocking=True,
        description=f"Nothing is lost: for each day, bronze.{feed.name} rows = silver rows + quarantined rows "
        "of the feed.",
    )
    def rows_conserved(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        bronze = per_day_counts(warehouse, f"bronze.{feed.name}", context)
        silver = per_day_counts(warehouse, table, context)
        rejected = per_day_counts(warehouse, quarantine, context, f"feed = '{feed.name}'")
        days = sorted(set(bronze) | set(silver) | set(rejected))
        broken = {
            d: {"bronze": bronze.get(d, 0), "silver": silver.get(d, 0), "quarantine": rejected.get(d, 0)}
            for d in days
            if bronze.get(d, 0) != silver.get(d, 0) + rejected.get(d, 0)
        }
        return dg.AssetCheckResult(
            passed=not broken,
            severity=ERROR,
            metadata={
                "days": len(days),
                "bronze_rows": sum(bronze.values()),
                "silver_rows": sum(silver.values()),
                "quarantined_rows": sum(rejected.values()),
                "days_not_conserved": dict(list(broken.items())[:SHOWN]),
            },
        )

    @check(asset=asset, name=KEY_UNIQUE, blocking=True, description=f"`{feed.key}` is unique within each day.")
    def key_unique(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context)
        dupes = warehouse.query(
            f'select partition_date, "{feed.key}" as key, count(*) as n from {table}{where} '
            "group by all having count(*) > 1 order by 1, 2",
            params,
        )
        return dg.AssetCheckResult(
            passed=dupes.is_empty(),
            severity=ERROR,
            metadata={
                "duplicated_keys": dupes.height,
                "examples": [f"{d} {k} ×{n}" for d, k, n in dupes.head(SHOWN).iter_rows()],
            },
        )

    @check(
        asset=asset, name=COMPLETENESS, description="Each column's null rate is within the contract's max_null_rate."
    )
    def completeness(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context)
        selects = ", ".join(
            f'avg(case when "{c.name}" is null then 1.0 else 0.0 end) as "{c.name}"' for c in feed.columns
        )
        rates = warehouse.query(f"select count(*) as __rows, {selects} from {table}{where}", params).row(0, named=True)
        over = {
            c.name: round(rates[c.name], 4)
            for c in feed.columns
            if rates[c.name] is not None and rates[c.name] > c.max_null_rate
        }
        return dg.AssetCheckResult(
            passed=not over,
            severity=WARN,
            metadata={
                "rows": rates["__rows"],
                "columns_over_threshold": over,
                "null_rates": {c.name: round(rates[c.name] or 0.0, 4) for c in feed.columns},
            },
        )

    @check(
        asset=asset,
        name=VALIDITY,
        blocking=True,
        description="Every stored value is within the contract's range or allowed values.",
    )
    def validity(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context)
        rules = _validity_rules(feed)
        if not rules:
            return dg.AssetCheckResult(passed=True, metadata={"rules": 0})
        selects = ", ".join(f'count(*) filter (where {sql}) as "{name}"' for name, sql in rules.items())
        counts = warehouse.query(f"select {selects} from {table}{where}", params).row(0, named=True)
        violations = {name: n for name, n in counts.items() if n}
        return dg.AssetCheckResult(
            passed=not violations, severity=ERROR, metadata={"rules": len(rules), "violations": violations}
        )

    @check(
        asset=asset,
        name=QUARANTINE_RATE,
        description=f"At most {contract.max_quarantine_rate:.0%} of each day's bronze rows are quarantined "
        "(max_quarantine_rate).",
    )
    def quarantine_rate(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        bronze = per_day_counts(warehouse, f"bronze.{feed.name}", context)
        rejected = per_day_counts(warehouse, quarantine, context, f"feed = '{feed.name}'")
        rates = {d: rejected.get(d, 0) / n for d, n in bronze.items() if n}
        over = {d: round(r, 4) for d, r in sorted(rates.items()) if r > contract.max_quarantine_rate}
        total = sum(rejected.values()) / max(sum(bronze.values()), 1)
        return dg.AssetCheckResult(
            passed=not over,
            severity=WARN,
            metadata={
                "quarantine_rate": round(total, 4),
                "threshold": contract.max_quarantine_rate,
                "days_over_threshold": dict(list(over.items())[:SHOWN]),
            },
        )

    return [rows_conserved, key_unique, completeness, validity, quarantine_rate]


def _validity_rules(feed: FeedSpec) -> dict[str, str]:
    rules = {}
    for c in feed.columns:
        if c.min is not None:
            rules[f"{c.name} >= {c.min}"] = f'"{c.name}" < {c.min}'
        if c.max is not None:
            rules[f"{c.name} <= {c.max}"] = f'"{c.name}" > {c.max}'
        if c.allowed is not None:
            values = ", ".join(repr(v) for v in c.allowed)
            rules[f"{c.name} in ({values})"] = f'"{c.name}" not in ({values})'
    return rules


def _gold_checks(contract: Contract, feature_set: FeatureSet) -> list[Check]:
    features_table, labels_table = f"gold.{contract.features_table}", f"gold.{contract.labels_table}"

    @check(
        asset=table_key(GOLD, contract.features_table),
        name=FEATURE_NULL_RATES,
        description="Each feature's null rate is within its tolerance in the feature set.",
    )
    def feature_null_rates(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context)
        selects = ", ".join(
            f'avg(case when "{n}" is null or isnan("{n}") then 1.0 else 0.0 end) as "{n}"' for n in feature_set.names
        )
        rates = warehouse.query(f"select {selects} from {features_table}{where}", params).row(0, named=True)
        over = {n: round(r, 4) for n, r in rates.items() if r is not None and r > feature_set.specs[n][2]}
        return dg.AssetCheckResult(
            passed=not over, severity=WARN, metadata={"features_over_tolerance": over, "features": len(rates)}
        )

    @check(
        asset=table_key(GOLD, contract.features_table),
        name=FEATURE_RANGES,
        description="Each feature's values lie in the range the feature set declares.",
    )
    def feature_ranges(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        where, params = where_clause(context)
        selects = ", ".join(
            f'count(*) filter (where "{n}" < {_sql_number(lo)} or "{n}" > {_sql_number(hi)}) as "{n}"'
            for n, (lo, hi, _) in feature_set.specs.items()
        )
        counts = warehouse.query(f"select {selects} from {features_table}{where}", params).row(0, named=True)
        out_of_range = {n: c for n, c in counts.items() if c}
        return dg.AssetCheckResult(
            passed=not out_of_range, severity=ERROR, metadata={"out_of_range_counts": out_of_range}
        )

    @check(
        asset=table_key(GOLD, contract.labels_table),
        name=LABELS_NOT_BEFORE_APPLICATION,
        blocking=True,
        description="No label became known before its application was made (label_date >= application_date).",
    )
    def labels_not_before_application(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        where, params = where_clause(context, "label_date < application_date")
        bad = warehouse.query(
            f'select "{contract.key}" as key, application_date, label_date from {labels_table}{where} limit {SHOWN}',
            params,
        )
        return dg.AssetCheckResult(
            passed=bad.is_empty(), severity=ERROR, metadata={"examples": [str(r) for r in bad.iter_rows()]}
        )

    @check(
        asset=table_key(GOLD, contract.labels_table),
        name=OUTCOMES_MATCHED,
        description="Every outcome of the day resolves an application seen in the label-matching window.",
    )
    def outcomes_matched(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        outcomes = per_day_counts(warehouse, f"silver.{contract.outcome.name}", context)
        labels = per_day_counts(warehouse, labels_table, context)
        unmatched = {d: n - labels.get(d, 0) for d, n in outcomes.items() if n != labels.get(d, 0)}
        return dg.AssetCheckResult(
            passed=not unmatched,
            severity=WARN,
            metadata={
                "outcomes": sum(outcomes.values()),
                "labels": sum(labels.values()),
                "unmatched_by_day": dict(list(unmatched.items())[:SHOWN]),
            },
        )

    return [feature_null_rates, feature_ranges, labels_not_before_application, outcomes_matched]


def _sql_number(value: float) -> str:
    return {float("inf"): "'inf'::double", float("-inf"): "'-inf'::double"}.get(value, repr(value))


def build_quality_checks(contract: Contract, feature_set: FeatureSet) -> list[dg.AssetChecksDefinition]:
    checks = []
    for feed in contract.feeds:
        checks += _bronze_checks(feed) + _silver_checks(contract, feed)
    return one_step_per_asset(checks + _gold_checks(contract, feature_set))
