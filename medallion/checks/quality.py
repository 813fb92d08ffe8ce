"""Data-quality checks of every layer, derived from the contract; each reads the stored tables for the run's days."""

from datetime import date, timedelta

import dagster as dg

from medallion.checks.steps import Check, check, one_step_per_asset
from medallion.checks.windows import (
    ERROR,
    WARN,
    DailyResults,
    Days,
    each_day,
    per_day,
    per_day_counts,
    records_by_day,
    table,
    where_clause,
)
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
    manifest_table,
    table_key,
)
from medallion.resources.landing import LandingZone
from medallion.resources.warehouse import Warehouse
from medallion.sources.landing import DayFiles


def _bronze_checks(contract: Contract, feed: FeedSpec, start: date) -> list[Check]:
    bronze = f"bronze.{feed.name}"
    is_outcome = feed.name == contract.outcome.name
    delay = contract.label_delay_days if is_outcome else 0

    @check(
        asset=table_key(BRONZE, feed.name),
        name=FILES_ARRIVED,
        start=start,
        description=f"Each day has at least one non-empty file in `landing/{feed.name}/<day>/`"
        + (
            f"; outcomes are due {delay} day(s) after applications (label_delay_days), so a day whose applications "
            "day had none is not expected to have any."
            if delay
            else "."
        ),
    )
    def files_arrived(days: Days, warehouse: Warehouse, landing: LandingZone) -> DailyResults:
        rows = per_day_counts(warehouse, bronze, days)
        applications = (
            per_day_counts(warehouse, f"bronze.{contract.entity.name}", [d - timedelta(days=delay) for d in days])
            if delay and days
            else {}
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            files = [p.name for p in landing.files(feed.name, day)]
            landed = rows.get(day, 0)
            due = not delay or applications.get(day - timedelta(days=delay), 0) > 0
            if landed or not due:
                note = None if landed else f"no outcomes due: no applications landed on {day - timedelta(days=delay)}"
                return dg.AssetCheckResult(passed=True, description=note, metadata={"rows": landed, "files": files})
            return dg.AssetCheckResult(
                passed=False,
                severity=WARN,
                description=f"no rows landed for {day}: {len(files)} file(s) in landing/{feed.name}/{day}/",
                metadata={"rows": 0, "files": files},
            )

        return each_day(days, rows, verdict)

    @check(
        asset=table_key(BRONZE, feed.name),
        name=HEADER_MATCHES_CONTRACT,
        start=start,
        blocking=True,
        description="Every file's header has the contract's columns: a missing required column is an error (blocks "
        "silver); a missing nullable column (a file from before the contract gained it) is read as null and an extra "
        "one keeps its values in each record's _raw_line, both warnings.",
    )
    def header_matches_contract(days: Days, warehouse: Warehouse) -> DailyResults:
        required = {column.name for column in feed.columns if not column.nullable}
        where, params = where_clause(days, "_header_issue is not null")
        by_day = records_by_day(
            warehouse.query(
                "select distinct partition_date, _source_file as file, _header_issue as issue "
                f"from {bronze}{where} order by 1, 2",
                params,
            )
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            found = by_day.get(day, [])
            missing = {name for r in found for name in _missing_columns(r["issue"])}
            return dg.AssetCheckResult(
                passed=not found,
                severity=ERROR if missing & required else WARN,
                description="; ".join(f"{r['file']}: {r['issue']}" for r in found[:5]) or None,
                metadata={
                    "expected_columns": feed.column_names,
                    "files_with_issues": table(found, {"file": "string", "issue": "string"}),
                },
            )

        return each_day(days, by_day, verdict)

    return [files_arrived, header_matches_contract]


def _missing_columns(issue: str) -> list[str]:
    """The columns a HeaderReport's issue text names as missing (`missing: A, B; extra: C`)."""
    part = next((p for p in issue.split("; ") if p.startswith("missing: ")), "")
    return part.removeprefix("missing: ").split(", ") if part else []


def _manifest_by_day(warehouse: Warehouse, feed: FeedSpec, days: Days) -> dict[date, dict[str, str]] | None:
    """{day: {file: status}} from the file manifest bronze wrote with the day; None for a bronze written before it."""
    name = manifest_table(feed.name)
    if not warehouse.table_exists(BRONZE, name):
        return None
    where, params = where_clause(days)
    found: dict[date, dict[str, str]] = {}
    for day, file, status in warehouse.query(
        f"select partition_date, file, status from {BRONZE}.{name}{where}", params
    ).iter_rows():
        found.setdefault(day, {})[file] = status
    return found


def _file_accounting(scan: DayFiles, manifest: dict[str, str] | None) -> dict:
    """Files seen under the day folder now, and how bronze took each up: read, ignored by rule, or not at all."""
    if manifest is None:
        return {"files_seen": scan.seen, "file_manifest": "none: bronze was written before it kept one"}
    seen = [str(p) for p in [*scan.read, *scan.ignored, *scan.refused]]
    statuses = list(manifest.values())
    return {
        "files_seen": len(seen),
        "files_read": statuses.count("read"),
        "files_ignored": statuses.count("ignored"),
        "files_refused": len(scan.refused),
        "not_read": sorted(f for f in seen if f not in manifest),
    }


def _silver_checks(contract: Contract, feed: FeedSpec, start: date) -> list[Check]:
    asset = table_key(SILVER, feed.name)
    silver, quarantine = f"silver.{feed.name}", f"silver.{contract.quarantine_table}"

    @check(
        asset=asset,
        name=ROWS_CONSERVED,
        start=start,
        blocking=True,
        description=f"Nothing is lost: for each day, bronze.{feed.name} rows = silver rows + quarantined rows "
        f"of the feed, and every file now under `landing/{feed.name}/<day>/` was read or ignored by rule when bronze "
        f"read the day (`bronze.{manifest_table(feed.name)}`): files seen = read + ignored.",
    )
    def rows_conserved(days: Days, warehouse: Warehouse, landing: LandingZone) -> DailyResults:
        bronze = per_day_counts(warehouse, f"bronze.{feed.name}", days)
        valid = per_day_counts(warehouse, silver, days)
        rejected = per_day_counts(warehouse, quarantine, days, f"feed = '{feed.name}'")
        manifest = _manifest_by_day(warehouse, feed, days)

        def verdict(day: date) -> dg.AssetCheckResult:
            counts = {"bronze_rows": bronze.get(day, 0), "silver_rows": valid.get(day, 0)}
            counts["quarantined_rows"] = rejected.get(day, 0)
            lost = counts["bronze_rows"] - counts["silver_rows"] - counts["quarantined_rows"]
            files = _file_accounting(landing.scan(feed.name, day), None if manifest is None else manifest.get(day, {}))
            problems = []
            if lost:
                problems.append(
                    f"{day}: bronze {counts['bronze_rows']} ≠ silver {counts['silver_rows']} + quarantine "
                    f"{counts['quarantined_rows']}"
                )
            if files.get("not_read"):
                problems.append(
                    f"{day}: {len(files['not_read'])} landed file(s) not read by bronze: "
                    f"{', '.join(files['not_read'][:5])} (landed after bronze read the day?): run the day again"
                )
            return dg.AssetCheckResult(
                passed=not problems,
                severity=ERROR,
                description="; ".join(problems) or None,
                metadata={
                    **counts,
                    "unaccounted_rows": lost,
                    **{k: v for k, v in files.items() if k != "not_read"},
                    "files_not_read": table([{"file": f} for f in files.get("not_read", [])], {"file": "string"}),
                },
            )

        return each_day(days, set(bronze) | set(valid) | set(rejected), verdict)

    @check(
        asset=asset, name=KEY_UNIQUE, start=start, blocking=True, description=f"`{feed.key}` is unique within each day."
    )
    def key_unique(days: Days, warehouse: Warehouse) -> DailyResults:
        where, params = where_clause(days)
        by_day = records_by_day(
            warehouse.query(
                f'select partition_date, "{feed.key}"::varchar as key, count(*) as rows from {silver}{where} '
                "group by all having count(*) > 1 order by 1, 2",
                params,
            )
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            found = by_day.get(day, [])
            return dg.AssetCheckResult(
                passed=not found,
                severity=ERROR,
                metadata={
                    "duplicated_keys": len(found),
                    "examples": table(found, {"key": "string", "rows": "int"}),
                },
            )

        return each_day(days, per_day_counts(warehouse, silver, days), verdict)

    @check(
        asset=asset,
        name=COMPLETENESS,
        start=start,
        description="Each column's null rate is within the contract's max_null_rate.",
    )
    def completeness(days: Days, warehouse: Warehouse) -> DailyResults:
        selects = ", ".join(
            f'avg(case when "{c.name}" is null then 1.0 else 0.0 end) as "{c.name}"' for c in feed.columns
        )
        rates = per_day(warehouse, silver, days, f"count(*) as __rows, {selects}")

        def verdict(day: date) -> dg.AssetCheckResult:
            found = rates.get(day, {})
            by_column = [
                {"column": c.name, "null_rate": round(found.get(c.name) or 0.0, 4), "max_null_rate": c.max_null_rate}
                for c in feed.columns
            ]
            over = [r for r in by_column if r["null_rate"] > r["max_null_rate"]]
            return dg.AssetCheckResult(
                passed=not over,
                severity=WARN,
                description=", ".join(f"{r['column']} {r['null_rate']:.1%}" for r in over) or None,
                metadata={
                    "rows": found.get("__rows", 0),
                    "columns_over_threshold": table(
                        over, {"column": "string", "null_rate": "float", "max_null_rate": "float"}
                    ),
                    "null_rates": {r["column"]: r["null_rate"] for r in by_column},
                },
            )

        return each_day(days, rates, verdict)

    @check(
        asset=asset,
        name=VALIDITY,
        start=start,
        blocking=True,
        description="Every stored value is within the contract's range or allowed values.",
    )
    def validity(days: Days, warehouse: Warehouse) -> DailyResults:
        rules = _validity_rules(feed)
        selects = ", ".join(
            [f'count(*) filter (where {sql}) as "{name}"' for name, sql in rules.items()] or ["count(*) as __rows"]
        )
        counts = per_day(warehouse, silver, days, selects)

        def verdict(day: date) -> dg.AssetCheckResult:
            broken = [{"rule": rule, "rows": n} for rule in rules if (n := counts.get(day, {}).get(rule))]
            return dg.AssetCheckResult(
                passed=not broken,
                severity=ERROR,
                metadata={"rules": len(rules), "violations": table(broken, {"rule": "string", "rows": "int"})},
            )

        return each_day(days, counts, verdict)

    @check(
        asset=asset,
        name=QUARANTINE_RATE,
        start=start,
        description=f"At most {contract.max_quarantine_rate:.0%} of each day's bronze rows are quarantined "
        "(max_quarantine_rate).",
    )
    def quarantine_rate(days: Days, warehouse: Warehouse) -> DailyResults:
        bronze = per_day_counts(warehouse, f"bronze.{feed.name}", days)
        rejected = per_day_counts(warehouse, quarantine, days, f"feed = '{feed.name}'")

        def verdict(day: date) -> dg.AssetCheckResult:
            rate = rejected.get(day, 0) / max(bronze.get(day, 0), 1)
            return dg.AssetCheckResult(
                passed=rate <= contract.max_quarantine_rate,
                severity=WARN,
                description=None
                if rate <= contract.max_quarantine_rate
                else f"{rate:.1%} of {bronze.get(day, 0)} rows quarantined",
                metadata={
                    "quarantine_rate": round(rate, 4),
                    "quarantined_rows": rejected.get(day, 0),
                    "bronze_rows": bronze.get(day, 0),
                    "threshold": contract.max_quarantine_rate,
                },
            )

        return each_day(days, bronze, verdict)

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


def _gold_checks(contract: Contract, feature_set: FeatureSet, start: date) -> list[Check]:
    features_table, labels_table = f"gold.{contract.features_table}", f"gold.{contract.labels_table}"

    @check(
        asset=table_key(GOLD, contract.features_table),
        name=FEATURE_NULL_RATES,
        start=start,
        description="Each feature's null rate is within its tolerance in the feature set.",
    )
    def feature_null_rates(days: Days, warehouse: Warehouse) -> DailyResults:
        selects = ", ".join(
            f'avg(case when "{n}" is null or isnan("{n}") then 1.0 else 0.0 end) as "{n}"' for n in feature_set.names
        )
        rates = per_day(warehouse, features_table, days, selects)

        def verdict(day: date) -> dg.AssetCheckResult:
            over = [
                {"feature": n, "null_rate": round(r, 4), "tolerance": feature_set.specs[n][2]}
                for n, r in rates.get(day, {}).items()
                if r is not None and r > feature_set.specs[n][2]
            ]
            return dg.AssetCheckResult(
                passed=not over,
                severity=WARN,
                metadata={
                    "features": len(feature_set.names),
                    "features_over_tolerance": table(
                        over, {"feature": "string", "null_rate": "float", "tolerance": "float"}
                    ),
                },
            )

        return each_day(days, rates, verdict)

    @check(
        asset=table_key(GOLD, contract.features_table),
        name=FEATURE_RANGES,
        start=start,
        description="Each feature's values lie in the range the feature set declares.",
    )
    def feature_ranges(days: Days, warehouse: Warehouse) -> DailyResults:
        selects = ", ".join(
            f'count(*) filter (where "{n}" < {_sql_number(lo)} or "{n}" > {_sql_number(hi)}) as "{n}"'
            for n, (lo, hi, _) in feature_set.specs.items()
        )
        counts = per_day(warehouse, features_table, days, selects)

        def verdict(day: date) -> dg.AssetCheckResult:
            out = [
                {"feature": n, "rows": c, "min": feature_set.specs[n][0], "max": feature_set.specs[n][1]}
                for n, c in counts.get(day, {}).items()
                if c
            ]
            return dg.AssetCheckResult(
                passed=not out,
                severity=ERROR,
                metadata={
                    "out_of_range": table(out, {"feature": "string", "rows": "int", "min": "float", "max": "float"})
                },
            )

        return each_day(days, counts, verdict)

    @check(
        asset=table_key(GOLD, contract.labels_table),
        name=LABELS_NOT_BEFORE_APPLICATION,
        start=start,
        blocking=True,
        description="No label became known before its application was made (label_date >= application_date).",
    )
    def labels_not_before_application(days: Days, warehouse: Warehouse) -> DailyResults:
        where, params = where_clause(days, "label_date < application_date")
        by_day = records_by_day(
            warehouse.query(
                f'select partition_date, "{contract.key}"::varchar as key, application_date::varchar as '
                f"application_date, label_date::varchar as label_date from {labels_table}{where} order by 1, 2",
                params,
            )
        )

        def verdict(day: date) -> dg.AssetCheckResult:
            found = by_day.get(day, [])
            return dg.AssetCheckResult(
                passed=not found,
                severity=ERROR,
                metadata={
                    "labels_before_application": len(found),
                    "examples": table(found, {"key": "string", "application_date": "string", "label_date": "string"}),
                },
            )

        return each_day(days, per_day_counts(warehouse, labels_table, days), verdict)

    @check(
        asset=table_key(GOLD, contract.labels_table),
        name=OUTCOMES_MATCHED,
        start=start,
        description="Every outcome of the day resolves an application seen in the label-matching window.",
    )
    def outcomes_matched(days: Days, warehouse: Warehouse) -> DailyResults:
        outcomes = per_day_counts(warehouse, f"silver.{contract.outcome.name}", days)
        labels = per_day_counts(warehouse, labels_table, days)

        def verdict(day: date) -> dg.AssetCheckResult:
            unmatched = outcomes.get(day, 0) - labels.get(day, 0)
            return dg.AssetCheckResult(
                passed=unmatched == 0,
                severity=WARN,
                description=None if unmatched == 0 else f"{unmatched} of {outcomes.get(day, 0)} outcomes unmatched",
                metadata={"outcomes": outcomes.get(day, 0), "labels": labels.get(day, 0), "unmatched": unmatched},
            )

        return each_day(days, set(outcomes) | set(labels), verdict)

    return [feature_null_rates, feature_ranges, labels_not_before_application, outcomes_matched]


def _sql_number(value: float) -> str:
    return {float("inf"): "'inf'::double", float("-inf"): "'-inf'::double"}.get(value, repr(value))


def build_quality_checks(contract: Contract, feature_set: FeatureSet, start: date) -> list[dg.AssetChecksDefinition]:
    checks = []
    for feed in contract.feeds:
        checks += _bronze_checks(contract, feed, start) + _silver_checks(contract, feed, start)
    return one_step_per_asset(checks + _gold_checks(contract, feature_set, start))
