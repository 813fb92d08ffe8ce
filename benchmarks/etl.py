"""Landing files → bronze, silver, quarantine and gold in a DuckDB file, four ways on the same input.

- `medallion_path`: the project's functions (read_landing_day → validate_feed → engineer_features), tables
  written from the Polars frames through Arrow as the warehouse IO manager writes them;
- `duckdb_floor`: the same contract rules as one DuckDB SQL pass generated from the contract (what the work
  costs when nothing but a columnar engine does it);
- `pandas_baseline`: the plain pandas way, plus writing its result to DuckDB;
- `dg_launch`: `dg launch --job etl_job --partition <day>` as a subprocess, as an operator runs it.

Each returns the counts it produced (`valid`, `rejected`) so the bench can check that the variants agree.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.inputs import DAY
from benchmarks.orchestration import run_breakdown
from medallion.contract import ColumnSpec, FeedSpec
from medallion.resources.table_writes import DaysWrite, replace_days
from medallion.settings import PROJECT_DIR

DUCKDB_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "date": "DATE",
    "bool": "BOOLEAN",
}
PAY_STATUS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
PAY_AMOUNTS = [f"PAY_AMT{i}" for i in range(1, 7)]


def _write_polars(connection, schema: str, table: str, frame) -> None:
    """The pipeline's own write (medallion.resources.table_writes.replace_days): one transaction with its ledger row."""
    replace_days(connection, {f"{schema}.{table}": frame}, DaysWrite(where=f"partition_date = '{DAY}'", days=[DAY]))


def medallion_path(feed: FeedSpec, files: list[str], database: str, day: date = DAY) -> dict:
    """The pipeline's steps in its order, in one process: read_landing_day → bronze written → validate_feed →
    silver and quarantine written → engineer_features → gold written, into a fresh DuckDB file; each frame is
    dropped once written and no longer needed, as the steps' own processes would. The steps' own seconds are
    returned beside the total."""
    import duckdb
    import polars as pl

    from medallion.logic.etl.cleaning import validate_feed
    from medallion.logic.etl.features import FEATURE_SET_VERSION, engineer_features
    from medallion.logic.etl.ingestion import read_landing_day

    started = time.perf_counter()
    with duckdb.connect(database) as connection:
        bronze, _ = read_landing_day([Path(f) for f in files], feed.column_names, day, datetime.now(UTC))
        read = time.perf_counter()
        peak_after_read = peak_rss_mb()
        _write_polars(connection, "bronze", feed.name, bronze)
        bronze_written = time.perf_counter()
        silver = validate_feed(bronze, feed)
        del bronze
        validated = time.perf_counter()
        peak_after_validate = peak_rss_mb()
        _write_polars(connection, "silver", feed.name, silver.valid)
        _write_polars(connection, "silver", "quarantine", silver.quarantine)
        silver_written = time.perf_counter()
        gold = engineer_features(silver.valid).with_columns(pl.lit(FEATURE_SET_VERSION).alias("feature_set_version"))
        engineered = time.perf_counter()
        _write_polars(connection, "gold", "features", gold)
    written = time.perf_counter()
    return {
        "seconds": written - started,  # the sums below are the bench's check, not the path's work
        "gold_sums": gold_sums(gold),
        "valid": silver.valid.height,
        "rejected": silver.quarantine.height,
        "first_reasons": _first_reasons(silver.quarantine),
        "peak_after_read_mb": peak_after_read,
        "peak_after_validate_mb": peak_after_validate,
        "read_s": round(read - started, 2),
        "bronze_write_s": round(bronze_written - read, 2),
        "validate_s": round(validated - bronze_written, 2),
        "silver_write_s": round(silver_written - validated, 2),
        "features_s": round(engineered - silver_written, 2),
        "gold_write_s": round(written - engineered, 2),
    }


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _first_reasons(quarantine) -> dict[str, int]:
    """Rejected rows by their first reason code, with duplicate_row and superseded merged as `duplicate`
    (the floor cannot tell them apart)."""
    import polars as pl

    counts = (
        quarantine.select(
            pl.col("reasons")
            .list.first()
            .replace({"duplicate_row": "duplicate", "superseded": "duplicate"})
            .alias("reason")
        )
        .group_by("reason")
        .len()
    )
    return dict(sorted(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)))


# ---------------------------------------------------------------------------------------------------------------
# The DuckDB floor


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed_sql(column: ColumnSpec, value: str) -> str:
    """The value (trimmed text, NULL when empty) typed as the contract's type, NULL when it does not parse.

    try_cast alone accepts more than the contract does for integers ('12.0', '0x10', '1_000'), so integers
    must also be digits with an optional sign, as Polars' cast requires."""
    kind = column.type
    if kind.startswith("int"):
        return f"case when regexp_full_match({value}, '[+-]?[0-9]+') then try_cast({value} as {DUCKDB_TYPES[kind]}) end"
    if kind == "float64":
        return f"case when isfinite(try_cast({value} as DOUBLE)) then try_cast({value} as DOUBLE) end"
    if kind == "date":
        return f"try_strptime({value}, '%Y-%m-%d')::DATE"
    if kind == "bool":
        return (
            f"case when lower({value}) in ('true', '1') then true when lower({value}) in ('false', '0') then false end"
        )
    return value


def _literal(value) -> str:
    return _quote(value) if isinstance(value, str) else repr(value)


def _reason_sql(feed: FeedSpec) -> str:
    """The first violated rule of the row, in medallion's order (column by column: missing, invalid_type,
    out_of_range, not_allowed), or NULL when the row is valid."""
    whens = []
    for column in feed.columns:
        raw, typed = _ident(column.name), _ident(f"__t_{column.name}")
        if not column.nullable:
            whens.append(f"when {raw} is null then 'missing:{column.name}'")
        whens.append(f"when {raw} is not null and {typed} is null then 'invalid_type:{column.name}'")
        if column.min is not None:
            whens.append(f"when {typed} < {column.min!r} then 'out_of_range:{column.name}'")
        if column.max is not None:
            whens.append(f"when {typed} > {column.max!r} then 'out_of_range:{column.name}'")
        if column.allowed is not None:
            allowed = ", ".join(_literal(v) for v in column.allowed)
            whens.append(f"when {typed} not in ({allowed}) then 'not_allowed:{column.name}'")
    return "case " + " ".join(whens) + " end"


def floor_sql(feed: FeedSpec, files: list[str], delivered_at: dict[str, datetime], day: date) -> list[str]:
    """The floor's statements, generated from the contract. The first reads and validates every file in one pass
    into a temporary `staged` table; the others split it into silver, quarantine and gold."""
    names = feed.column_names
    file_list = "[" + ", ".join(_quote(f) for f in files) + "]"
    delivery = " ".join(f"when {_quote(f)} then TIMESTAMPTZ {_quote(t.isoformat())}" for f, t in delivered_at.items())
    trimmed = ", ".join(f"nullif(trim({_ident(c)}), '') as {_ident(c)}" for c in names)
    typed = ", ".join(f"{_typed_sql(c, _ident(c.name))} as {_ident('__t_' + c.name)}" for c in feed.columns)
    key = _ident(f"__t_{feed.key}")
    raw_columns = ", ".join(_ident(c) for c in names)
    staged = f"""
        create temp table staged as
        with landed as (
            select filename as __file, {trimmed}
            from read_csv({file_list}, all_varchar = true, header = true, delim = ',', quote = '"', escape = '"',
                          filename = true, store_rejects = true,
                          rejects_table = 'floor_rejects', rejects_scan = 'floor_scans')
        ),
        typed as (select *, {typed} from landed),
        checked as (select *, {_reason_sql(feed)} as __reason from typed)
        select __file, case __file {delivery} end as __delivered_at, {raw_columns}, {key} as __key, __reason,
            case when __reason is null then row_number() over (
                partition by __reason is null, {key} order by case __file {delivery} end desc, __file desc
            ) end as __rank
        from checked
    """
    day_sql = f"DATE {_quote(day.isoformat())}"
    silver_columns = ", ".join(
        f"cast({_ident(c.name)} as {DUCKDB_TYPES[c.type]}) as {_ident(c.name)}" for c in feed.columns
    )
    null_values = ", ".join(f"null::VARCHAR as {_ident(c)}" for c in names)
    return [
        staged,
        "create schema if not exists silver",
        "create schema if not exists gold",
        f"""create table silver.{_ident(feed.name)} as
            select {day_sql} as partition_date, {silver_columns}, __file as source_file
            from staged where __rank = 1""",
        f"""create table silver.quarantine as
            select {day_sql} as partition_date, coalesce(__reason, 'duplicate') as reason, __file as source_file,
                   null::BIGINT as line_number, null::VARCHAR as raw_line, {raw_columns}
            from staged where __reason is not null or __rank > 1
            union all by name
            select distinct on (e.file_id, e.line) {day_sql} as partition_date, 'malformed_line' as reason,
                   s.file_path as source_file, e.line::BIGINT as line_number, e.csv_line as raw_line, {null_values}
            from floor_rejects e join floor_scans s using (scan_id, file_id)""",
        f"create table gold.features as select {features_sql()}, 'credit-v1' as feature_set_version "
        f"from silver.{_ident(feed.name)}",
    ]


def features_sql() -> str:
    """engineer_features' 37 columns as one SQL select list over silver's typed columns (the floor writes the same
    gold as medallion; `gold_sums` lets the bench check that both computed the same values)."""
    bills = [f"BILL_AMT{i}::DOUBLE" for i in range(1, 7)]
    payments = [f"PAY_AMT{i}::DOUBLE" for i in range(1, 7)]
    # A payment in month k settles the bill of month k+1, as in engineer_features.
    bill_sum, owed, paid = " + ".join(bills), " + ".join(bills[1:]), " + ".join(payments[:5])

    def clip(expression: str, low: float, high: float) -> str:
        return f"greatest(least({expression}, {high}), {low})"

    def count(condition: str, columns: list[str]) -> str:
        return "(" + " + ".join(f"({c} {condition})::INT" for c in columns) + ")::DOUBLE"

    columns = [
        "partition_date",
        '"ID"',
        "LIMIT_BAL::DOUBLE as limit_bal",
        "AGE::DOUBLE as age",
        "((AGE > 25)::INT + (AGE > 35)::INT + (AGE > 45)::INT + (AGE > 60)::INT)::DOUBLE as age_band",
        "(SEX = 2)::DOUBLE as is_female",
        "(EDUCATION = 1)::DOUBLE as education_graduate",
        "(EDUCATION = 2)::DOUBLE as education_university",
        "(EDUCATION = 3)::DOUBLE as education_high_school",
        "(EDUCATION not in (1, 2, 3))::DOUBLE as education_other",
        "(MARRIAGE = 1)::DOUBLE as is_married",
        "(MARRIAGE = 2)::DOUBLE as is_single",
        *[f"{c}::DOUBLE as pay_status_{i}" for i, c in enumerate(PAY_STATUS)],
        f"{count('> 0', PAY_STATUS)} as months_delayed",
        f"greatest({', '.join(PAY_STATUS)})::DOUBLE as max_delay",
        f"{count('= -1', PAY_STATUS)} as months_paid_duly",
        *[f"{b} as bill_amt_{i}" for i, b in enumerate(bills, start=1)],
        *[f"{p} as pay_amt_{i}" for i, p in enumerate(payments, start=1)],
        clip(f"{bills[0]} / LIMIT_BAL", -50, 50) + " as utilisation_latest",
        clip(f"({bill_sum}) / 6 / LIMIT_BAL", -50, 50) + " as utilisation_mean",
        clip(f"({bills[0]} - {bills[5]}) / LIMIT_BAL", -50, 50) + " as bill_trend",
        f"case when {owed} > 0 then {clip(f'({paid}) / ({owed})', 0, 10)} end as payment_ratio",
        f"case when {bills[1]} > 0 then {clip(f'{payments[0]} / {bills[1]}', 0, 10)} end as payment_ratio_latest",
        f"{count('= 0', PAY_AMOUNTS)} as months_without_payment",
    ]
    return ", ".join(columns)


def gold_sums(frame) -> dict[str, float]:
    """Each numeric gold column's sum: two variants that computed the same features give the same sums."""
    import polars as pl

    numeric = frame.select(pl.selectors.numeric().exclude("ID"))
    return {name: float(value) for name, value in numeric.sum().row(0, named=True).items()}


def duckdb_floor(feed: FeedSpec, files: list[str], database: str, day: date = DAY) -> dict:
    """The DuckDB floor: the contract's rules as SQL generated from the contract, on the same files.

    What it does, in one read of the files (`read_csv` with all_varchar, quoting and `store_rejects`): trims
    every value (empty → NULL), types it with `try_cast` (integers also digits-only, floats finite, dates
    YYYY-MM-DD, bools true/false/1/0), applies required-not-null, min, max and allowed, and keeps the first
    violated rule per row, in medallion's order; lines with a wrong field count are rejected by read_csv and
    counted from its reject table; valid rows are de-duplicated on the typed key keeping the latest delivery
    (file mtime, then file name). It writes silver (typed valid rows), the quarantine (raw values and the first
    reason) and gold (engineer_features' 37 columns, as SQL: `features_sql`).

    What it does NOT do that medallion does, so the comparison is not like for like:
    - no bronze table: the records as landed (`_raw_line`), with `_line_number`, `_row_hash`, `_delivered_at`,
      `_ingested_at`, `_parse_error`, `_header` and `_header_issue`, are never stored;
    - rejected rows keep only their first reason, not the list of every reason, and (except malformed lines,
      which read_csv reports with their line and text) neither their line number nor their raw line;
    - repeated keys are all `duplicate`: without a row hash it cannot tell `duplicate_row` (the same line again)
      from `superseded` (other values); within one file, which copy of a key wins is not defined (medallion: the
      later line);
    - columns are matched by position, as the first file's header names them (DuckDB's reject handling excludes
      `union_by_name`), not by name in each file; a missing or extra header column is not reported per file
      (medallion: `missing_column:<col>`, `_header_issue`); an undecodable file or a duplicated header column is
      an error of the whole read, without medallion's file/line/rule message;
    - trim removes spaces only (medallion strips all whitespace).
    """
    import duckdb

    delivered = {f: datetime.fromtimestamp(Path(f).stat().st_mtime, tz=UTC) for f in files}
    started = time.perf_counter()
    with duckdb.connect(database) as connection:
        statements = floor_sql(feed, files, delivered, day)
        connection.execute(statements[0])
        staged = time.perf_counter()
        for statement in statements[1:]:
            connection.execute(statement)
        valid = connection.execute(f"select count(*) from silver.{_ident(feed.name)}").fetchone()[0]
        reasons = connection.execute(
            "select reason, count(*) from silver.quarantine group by reason order by reason"
        ).fetchall()
        finished = time.perf_counter()
        sums = gold_sums(connection.execute("select * from gold.features").pl())
    return {
        "seconds": finished - started,
        "gold_sums": sums,
        "valid": valid,
        "rejected": sum(n for _, n in reasons),
        "first_reasons": dict(reasons),
        "read_validate_s": round(staged - started, 2),
        "split_write_s": round(finished - staged, 2),
    }


# ---------------------------------------------------------------------------------------------------------------
# pandas


def pandas_baseline(feed: FeedSpec, files: list[str], database: str, day: date = DAY) -> dict:
    """What pipelines are commonly written as: read as text, coerce per column, mask the invalid rows,
    drop duplicates; then the result written to DuckDB (silver, rejected rows, gold).

    Lines with a wrong field count are skipped by read_csv (`on_bad_lines="skip"`) and lost, not rejected;
    duplicates are dropped in file-name order, not delivery order."""
    import duckdb
    import pandas as pd
    import polars as pl

    started = time.perf_counter()
    frame = pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False, on_bad_lines="skip") for f in files], ignore_index=True
    )
    invalid = pd.Series(False, index=frame.index)
    typed = {}
    for column in feed.columns:
        values = pd.to_numeric(frame[column.name].str.strip().replace("", None), errors="coerce")
        bad = values.isna()
        if column.min is not None:
            bad |= values < column.min
        if column.max is not None:
            bad |= values > column.max
        if column.allowed is not None:
            bad |= ~values.isin(column.allowed)
        invalid |= bad
        typed[column.name] = values
    valid = pd.DataFrame(typed)[~invalid]
    silver = valid.drop_duplicates(subset=[feed.key], keep="last")
    silver.insert(0, "partition_date", pd.Timestamp(day))
    rejected = frame[invalid]
    duplicates = len(valid) - len(silver)
    gold = pandas_features(silver, feed.key)
    computed = time.perf_counter()
    with duckdb.connect(database) as connection:
        connection.execute("create schema silver; create schema gold")
        connection.register("silver_frame", silver)
        connection.register("rejected_frame", rejected)
        connection.register("gold_frame", gold)
        connection.execute(f"create table silver.{feed.name} as select * from silver_frame")
        connection.execute("create table silver.quarantine as select * from rejected_frame")
        connection.execute("create table gold.features as select * from gold_frame")
    written = time.perf_counter()
    return {
        "seconds": written - started,
        "gold_sums": gold_sums(pl.from_pandas(gold)),
        "valid": int(len(silver)),
        "rejected": int(invalid.sum()) + duplicates,
        "compute_s": round(computed - started, 2),
        "write_s": round(written - computed, 2),
    }


def pandas_features(silver, key: str):
    """engineer_features' 37 columns, the plain pandas way."""
    import pandas as pd

    bills = silver[[f"BILL_AMT{i}" for i in range(1, 7)]].astype(float)
    payments = silver[PAY_AMOUNTS].astype(float)
    status = silver[PAY_STATUS]
    limit = silver["LIMIT_BAL"].astype(float)
    owed, paid = bills.iloc[:, 1:].sum(axis=1), payments.iloc[:, :5].sum(axis=1)
    columns = {
        "partition_date": silver["partition_date"],
        key: silver[key],
        "limit_bal": limit,
        "age": silver["AGE"].astype(float),
        "age_band": sum((silver["AGE"] > edge).astype(float) for edge in (25, 35, 45, 60)),
        "is_female": (silver["SEX"] == 2).astype(float),
        "education_graduate": (silver["EDUCATION"] == 1).astype(float),
        "education_university": (silver["EDUCATION"] == 2).astype(float),
        "education_high_school": (silver["EDUCATION"] == 3).astype(float),
        "education_other": (~silver["EDUCATION"].isin([1, 2, 3])).astype(float),
        "is_married": (silver["MARRIAGE"] == 1).astype(float),
        "is_single": (silver["MARRIAGE"] == 2).astype(float),
        **{f"pay_status_{i}": status[c].astype(float) for i, c in enumerate(PAY_STATUS)},
        "months_delayed": (status > 0).sum(axis=1).astype(float),
        "max_delay": status.max(axis=1).astype(float),
        "months_paid_duly": (status == -1).sum(axis=1).astype(float),
        **{f"bill_amt_{i}": bills.iloc[:, i - 1] for i in range(1, 7)},
        **{f"pay_amt_{i}": payments.iloc[:, i - 1] for i in range(1, 7)},
        "utilisation_latest": (bills.iloc[:, 0] / limit).clip(-50, 50),
        "utilisation_mean": (bills.mean(axis=1) / limit).clip(-50, 50),
        "bill_trend": ((bills.iloc[:, 0] - bills.iloc[:, 5]) / limit).clip(-50, 50),
        "payment_ratio": (paid / owed).clip(0, 10).where(owed > 0),
        "payment_ratio_latest": (payments.iloc[:, 0] / bills.iloc[:, 1]).clip(0, 10).where(bills.iloc[:, 1] > 0),
        "months_without_payment": (payments == 0).sum(axis=1).astype(float),
    }
    return pd.DataFrame(columns).assign(feature_set_version="credit-v1")


# ---------------------------------------------------------------------------------------------------------------
# dg launch


def dg_environment(home: Path, dagster_home: Path) -> dict[str, str]:
    """The environment `make` gives dg, on the given homes; the project's own process defaults (event batching)
    apply, not whatever the calling shell set."""
    venv = PROJECT_DIR / ".venv"
    inherited = {k: v for k, v in os.environ.items() if k != "DAGSTER_EVENT_BATCH_SIZE"}
    return {
        **inherited,
        "MEDALLION_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def dg_launch(feed: str, home: str, dagster_home: str, day: date = DAY) -> dict:
    """`dg launch --job etl_job --partition <day>` in a subprocess (cwd: the project), from a process that does
    nothing else, so its wall time and the child's peak RSS (RUSAGE_CHILDREN) belong to the launch alone.

    The job is the whole ETL: both feeds' bronze, silver and quarantine, gold features and labels, and every
    quality check; the counts are read back from the warehouse afterwards."""
    import duckdb

    env = dg_environment(Path(home), Path(dagster_home))
    command = [str(PROJECT_DIR / ".venv" / "bin" / "dg"), "launch", "--job", "etl_job", "--partition", str(day)]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "seconds": seconds,
        "cpu_s": round(children.ru_utime + children.ru_stime, 2),
        "peak_rss_mb": children.ru_maxrss / 1024,
        "returncode": completed.returncode,
    }
    if completed.returncode != 0:
        return {**result, "error": (completed.stderr or completed.stdout)[-2000:]}
    result.update(run_breakdown(dagster_home))
    with duckdb.connect(str(Path(home) / "warehouse.duckdb"), read_only=True) as connection:
        valid = connection.execute(f"select count(*) from silver.{_ident(feed)}").fetchone()[0]
        rejected = connection.execute("select count(*) from silver.quarantine where feed = ?", [feed]).fetchone()[0]
    return {**result, "valid": valid, "rejected": rejected}
