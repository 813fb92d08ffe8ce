"""Your own data: land a file of applications (and their outcomes) in a dataset's landing folders, and draft a
contract from a file.

`land_file` takes a CSV (plain or .gz/.bz2/.xz) or Parquet file of entity rows with either a label column or a
separate outcomes file, checks it against the dataset's contract with silver's own typing and rules, and writes
`<landing>/<entity feed>/<day>/<stem>_<day>.csv` and `<landing>/<outcome feed>/<day + delay>/<stem>_<day>.csv`, the
outcome files carrying the contract's key, label, `label_time` (the application day + the label delay) and
`application_time` (the application day) columns.

Validation policy: a header that does not match the contract (missing or extra columns), a record that does not split
into the header's fields and a day that cannot be assigned (an unreadable date) refuse the whole file before anything
is written. Values that break the contract's types, `allowed`, `min` or `max` are counted per reason and column with
their first line numbers, and landed as they are: silver quarantines them with the same reasons (`strict=True`
refuses them instead). Nothing is dropped without a word.

`draft_contract` writes a contract and a `defs.yaml` for a new dataset from a file: each column's type, `allowed` values
for low-cardinality columns, `min`/`max` for numeric ones, `nullable` where values are missing, the key (a column or a
generated `ID`), the label with `label_positive`; it is loaded with the contract model before it is written.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from medallion.contract import ColumnSpec, Contract, ContractError, check_no_shared_tables, load_contract
from medallion.contract.model import IDENTIFIER, parse_contract

# Silver's own typing of a text value and its rules, so a value reported here is exactly one silver quarantines.
from medallion.logic.etl.cleaning import _typed, _violations
from medallion.logic.etl.feature_sets import FeatureSet, feature_set_for
from medallion.logic.etl.ingestion import COMPRESSIONS, read_landing_file, split_fields
from medallion.settings import PACKAGE_DIR
from medallion.sources.landing import (
    READ_SUFFIXES,
    LandingConflictError,
    LandingSummary,
    csv_bytes,
    day_dir,
    write_day_file_once,
)

DEFS_ROOT = PACKAGE_DIR / "defs"
DATASET_TYPES = ("medallion.components.Dataset", "medallion.components.dataset.Dataset")
CONTRACT_FILE, DEFS_FILE = "contract.yaml", "defs.yaml"
ETL_JOB, PLAIN_ML_SCHEMA = "etl_job", "ml"  # medallion.names.ETL_JOB and ML, without importing Dagster
DEFAULT_LABEL_DELAY_DAYS = 30
PARQUET_SUFFIXES = (".parquet", ".pq")
SHOWN_LINES = 5
MAX_ALLOWED = 20  # a column with at most this many distinct values (text, or int8 numbers) gets `allowed`
GENERATED_KEY = "ID"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]{0,62}")
LINE, PARSE_ERROR, DAY, KEY = "__line", "__parse_error", "__day", "__key"
POLICY = (
    "policy: a header that does not match the contract, a malformed record or an unreadable date refuses the file "
    "(nothing written); rows with values outside the contract's types, allowed values or min/max are landed as they "
    "are and silver quarantines them with these reasons (--strict refuses them instead)"
)


class OwnDataError(ValueError):
    """The file cannot be landed or drafted as asked; nothing was written. The message says why and what to do."""


class HeaderMismatchError(OwnDataError):
    """The file's header is not the contract's columns: the missing and extra ones are named."""

    def __init__(self, path: Path, missing: list[str], extra: list[str], contract: Contract, hints: list[str]):
        self.path, self.missing, self.extra = path, missing, extra
        parts = [f"missing: {', '.join(missing)}" if missing else "", f"extra: {', '.join(extra)}" if extra else ""]
        super().__init__(
            f"{path}: the header does not match the contract of dataset {contract.name} "
            f"({contract.source or 'contract'}): {'; '.join(p for p in parts if p)}. "
            + " ".join(hints)
            + " Nothing was written."
        )


# ---------------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class InputTable:
    """A user's file as text values: its header's columns as landed, `__line` and `__parse_error`."""

    path: Path
    header: list[str]
    values: pl.DataFrame
    unit: str  # "line": a CSV record's first physical line (1 = the header); "row": a Parquet row (1 = the first)

    @property
    def rows(self) -> int:
        return self.values.height

    def where(self, lines: Iterable[int], total: int) -> str:
        shown = ", ".join(str(n) for n in lines)
        more = ", ..." if total > SHOWN_LINES else ""
        return f"{self.unit}{'s' if total > 1 else ''} {shown}{more}"


def read_input(path: Path) -> InputTable:
    """A CSV file read as bronze reads a landed one (quoting, CRLF, BOM, compression, line numbers), or a Parquet
    file with each value as text."""
    path = Path(path)
    if not path.is_file():
        raise OwnDataError(f"{path}: no such file")
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        frame = pl.read_parquet(path)
        text = [pl.col(c).cast(pl.String) for c in frame.columns]
        values = frame.select(
            pl.when(t != "").then(t).alias(c) for t, c in zip(text, frame.columns, strict=True)
        ).with_columns(
            pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(LINE), pl.lit(None, pl.String).alias(PARSE_ERROR)
        )
        return InputTable(path, list(frame.columns), values, "row")
    if not name.endswith(READ_SUFFIXES):
        raise OwnDataError(
            f"{path}: not a file medallion reads; give a .csv (optionally .csv.gz, .csv.bz2, .csv.xz) or .parquet file"
        )
    header = _csv_header(path)
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise OwnDataError(f"{path}: line 1: the header names column(s) {duplicated} more than once")
    bronze, _ = read_landing_file(path, header, date(1970, 1, 1), datetime.now(UTC))
    values = split_fields(bronze, header).select(
        # An empty value is no value: landed as nothing, whether the file had `,,` or `,"",` (a Parquet null).
        *[pl.when(pl.col(h) != "").then(pl.col(h)).alias(h) for h in header],
        pl.col("_line_number").alias(LINE),
        pl.col("_parse_error").alias(PARSE_ERROR),
    )
    return InputTable(path, header, values, "line")


def _csv_header(path: Path) -> list[str]:
    data = path.read_bytes()
    decompress = COMPRESSIONS.get(path.suffix.lower())
    if decompress is not None:
        try:
            data = decompress(data)
        except Exception as error:  # noqa: BLE001 - each codec raises its own kind
            raise OwnDataError(f"{path}: cannot be decompressed: {error}") from error
    first = data.decode("utf-8-sig", errors="replace").split("\n", 1)[0].removesuffix("\r")
    if not first.strip():
        raise OwnDataError(f"{path}: line 1 is empty; the first line must be the header")
    return [h.strip() for h in next(csv.reader([first]))]


def _refuse_malformed(table: InputTable) -> None:
    bad = table.values.filter(pl.col(PARSE_ERROR).is_not_null())
    if bad.height:
        first = bad.head(SHOWN_LINES)
        detail = "; ".join(f"{line}: {error}" for line, error in first.select(LINE, PARSE_ERROR).iter_rows())
        raise OwnDataError(
            f"{table.path}: {bad.height} record(s) do not split into the header's {len(table.header)} fields "
            f"({table.unit} {detail}{'; ...' if bad.height > SHOWN_LINES else ''}); fix the file (a value with a "
            "comma or a line break must be quoted). Nothing was written."
        )


# ------------------------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Finding:
    """Rows of the file that break one rule: silver's reason code, the contract column, how many, the first lines."""

    feed: str
    reason: str
    column: str
    rows: int
    lines: tuple[int, ...]
    file_column: str | None = None  # the file's name for the column, where it is mapped (--label-column, --id-column)
    source: str = ""  # the file's name
    unit: str = "line"

    def describe(self) -> str:
        mapped = f" (file column {self.file_column})" if self.file_column and self.file_column != self.column else ""
        shown = ", ".join(str(n) for n in self.lines) + (", ..." if self.rows > len(self.lines) else "")
        return (
            f"{self.feed} {self.reason}:{self.column}{mapped}: {self.rows} row(s) ({self.source} {self.unit}s {shown})"
        )


def check_values(
    values: pl.DataFrame, columns: list[tuple[str, ColumnSpec]], feed: str, table: InputTable
) -> list[Finding]:
    """Each rule of each (file column, contract column) that some rows break, judged as silver judges it."""
    specs = [(file_column, replace(spec, name=file_column), spec.name) for file_column, spec in columns]
    typed = values.lazy().with_columns(
        *[_typed(spec).alias(f"__typed_{spec.name}") for _, spec, _ in specs],
        *[
            pl.col(spec.name).str.strip_chars().fill_null("").ne("").alias(f"__present_{spec.name}")
            for _, spec, _ in specs
        ],
    )
    rules: list[tuple[pl.Expr, str, str, str]] = []
    for file_column, spec, contract_column in specs:
        for condition, code in _violations(spec, pl.lit(False)):
            rules.append((condition, code.split(":", 1)[0], contract_column, file_column))
    if not rules:
        return []
    flags = typed.select(
        LINE, *[condition.fill_null(False).alias(f"__rule{i}") for i, (condition, *_) in enumerate(rules)]
    ).collect()
    findings: dict[tuple[str, str], Finding] = {}
    for i, (_, reason, column, file_column) in enumerate(rules):
        lines = flags.filter(pl.col(f"__rule{i}"))[LINE]
        if not lines.len():
            continue
        earlier = findings.get((reason, column))
        if earlier is not None:  # out_of_range is two rules (min and max): one finding
            lines = pl.concat([pl.Series(earlier.lines, dtype=pl.Int64), lines]).unique().sort()
        count = lines.len() + (earlier.rows - len(earlier.lines) if earlier else 0)
        findings[(reason, column)] = Finding(
            feed,
            reason,
            column,
            count,
            tuple(lines.head(SHOWN_LINES).to_list()),
            file_column,
            table.path.name,
            table.unit,
        )
    return list(findings.values())


# ----------------------------------------------------------------------------------------------------- the datasets


@dataclass(frozen=True)
class DatasetEntry:
    """A defined dataset: its contract, its defs.yaml and the `ml` attribute there."""

    contract: Contract
    defs_file: Path | None = None
    ml: Any = False

    @property
    def etl_job(self) -> str:
        """Its ETL job: `etl_job` for the dataset whose `ml.schema` is the plain `ml`, else `etl_job__<dataset>`."""
        plain = isinstance(self.ml, dict) and self.ml.get("schema") == PLAIN_ML_SCHEMA
        return ETL_JOB if plain else f"{ETL_JOB}__{self.contract.name}"


def _dataset_declarations(defs_file: Path) -> list[dict]:
    try:
        documents = list(yaml.safe_load_all(defs_file.read_text(encoding="utf-8")))
    except yaml.YAMLError:
        return []  # not ours to judge: `dg check defs` names it
    return [d for d in documents if isinstance(d, dict) and d.get("type") in DATASET_TYPES]


def defined_datasets(defs_root: Path = DEFS_ROOT) -> dict[str, DatasetEntry]:
    """The datasets declared under the defs folder (each `defs.yaml` of type medallion.components.Dataset, as the code
    location loads them), by contract name; read without importing Dagster."""
    found: dict[str, DatasetEntry] = {}
    for defs_file in sorted(Path(defs_root).rglob(DEFS_FILE)):
        for declaration in _dataset_declarations(defs_file):
            attributes = declaration.get("attributes") or {}
            contract = load_contract(defs_file.parent / attributes.get("contract", CONTRACT_FILE))
            found[contract.name] = DatasetEntry(contract, defs_file, attributes.get("ml", False))
    return found


def resolve_dataset(dataset: str | None, contract_path: Path | None, defs_root: Path = DEFS_ROOT) -> DatasetEntry:
    """The dataset named `dataset` among the defined ones, or the contract at `contract_path` (with the defs.yaml
    beside it, if one points at it)."""
    if (dataset is None) == (contract_path is None):
        raise OwnDataError("name the dataset (--dataset NAME) or its contract file (--contract PATH): one of them")
    if contract_path is not None:
        contract_path = Path(contract_path).resolve()
        contract = load_contract(contract_path)
        defs_file = contract_path.parent / DEFS_FILE
        if defs_file.is_file():
            for declaration in _dataset_declarations(defs_file):
                attributes = declaration.get("attributes") or {}
                if (defs_file.parent / attributes.get("contract", CONTRACT_FILE)).resolve() == contract_path:
                    return DatasetEntry(contract, defs_file, attributes.get("ml", False))
        return DatasetEntry(contract)
    datasets = defined_datasets(defs_root)
    if dataset not in datasets:
        known = ", ".join(sorted(datasets)) or "none"
        raise OwnDataError(
            f"no dataset {dataset!r} among the defined datasets ({known}) under {defs_root}; draft one with "
            "`medallion init-contract`, or give its contract with --contract PATH"
        )
    return datasets[dataset]


def contract_label_delay(contract: Contract) -> int | None:
    """The contract's `label_delay_days` where it declares one (0 included); None where it does not."""
    if contract.source is None or not Path(contract.source).is_file():
        return contract.label_delay_days or None
    raw = yaml.safe_load(Path(contract.source).read_text(encoding="utf-8"))
    return contract.label_delay_days if isinstance(raw, dict) and "label_delay_days" in raw else None


# ----------------------------------------------------------------------------------------------------------- landing


@dataclass(frozen=True)
class OwnLanding:
    """What `land_file` put into the landing folder, and what it found in the file."""

    dataset: str
    contract_file: Path | None
    input: Path
    landing: LandingSummary
    feeds: dict[str, tuple[int, int]]  # feed folder → (files written, files already identical)
    outcome_rows: int
    ids: str
    days_rule: str
    label_delay_days: int
    label_delay_from: str
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]
    etl_job: str
    unit: str

    @property
    def files_written(self) -> int:
        return self.landing.files_written

    @property
    def files_unchanged(self) -> int:
        return self.landing.files_unchanged

    def describe(self) -> str:
        s = self.landing
        lines = [
            f"{s.rows} row(s) of {self.input} for dataset {self.dataset}"
            + (f" (contract {self.contract_file})" if self.contract_file else ""),
            f"  ids: {self.ids}",
            f"  days: {s.days}, applications {s.first_application_day}..{s.last_application_day} ({self.days_rule})",
            f"  outcomes: {self.outcome_rows} row(s), {self.label_delay_days} day(s) after their application "
            f"({self.label_delay_from}), the last on {s.last_outcome_day}",
        ]
        for folder, (written, identical) in self.feeds.items():
            lines.append(f"  {folder}: {written} file(s) written, {identical} already identical")
        if self.findings:
            lines.append(f"  values the pipeline will quarantine or supersede ({len(self.findings)} rule(s) broken):")
            lines += [f"    {finding.describe()}" for finding in self.findings]
        else:
            lines.append("  values: every value is within the contract's types, allowed values and min/max")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(f"  {POLICY}")
        return "\n".join(lines)


def next_command(summary: OwnLanding, home: Path | None, start_date: date, last_partition: date) -> list[str]:
    """The command that runs the dataset's ETL over the landed days, with what it needs in the environment."""
    first, last = summary.landing.first_application_day, summary.landing.last_outcome_day
    environment = [f"MEDALLION_HOME={home}"] if home is not None else []
    lines = []
    if first < start_date:
        environment.append(f"MEDALLION_START_DATE={first}")
        lines.append(
            f"the first day {first} is before MEDALLION_START_DATE={start_date}, the first daily partition: set "
            f"MEDALLION_START_DATE={first} (or earlier) wherever the definitions load (dagster dev, the daemon)"
        )
    end = min(last, last_partition)
    if last > last_partition:
        lines.append(
            f"outcome days after {last_partition} are not partitions yet (partitions run to yesterday, or "
            "MEDALLION_END_DATE): run them once they are, or set MEDALLION_END_DATE"
        )
    command = " ".join([*environment, "medallion", "launch", summary.etl_job, "--start", str(first), "--end", str(end)])
    if end < first:
        return [*lines, f"no landed day is a partition yet (the first is {first}); run {summary.etl_job} later"]
    return [*lines, f"next: {command}"]


def _file_stem(path: Path) -> str:
    name = path.name
    for suffix in (*COMPRESSIONS, ".csv", *PARQUET_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("._-") or "data"


def _spread_days(rows: int, start: date, days: int) -> pl.Series:
    """Rows in file order cut into `days` runs whose sizes differ by at most one (the first `rows % days` days get
    one row more), as `medallion replay` cuts its order."""
    base, extra = divmod(rows, days)
    sizes = [base + (1 if i < extra else 0) for i in range(days)]
    return pl.Series(DAY, [start + timedelta(days=i) for i, size in enumerate(sizes) for _ in range(size)], pl.Date)


def _parse_days(values: pl.Series) -> pl.Series:
    """YYYY-MM-DD, optionally followed by a time (its day is taken)."""
    text = values.str.strip_chars().str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$")
    return text.str.to_date("%Y-%m-%d", strict=False).alias(DAY)


def _findings_lines(frame: pl.DataFrame, table: InputTable) -> str:
    return table.where(frame[LINE].head(SHOWN_LINES).to_list(), frame.height)


def land_file(
    landing_dir: Path,
    dataset: DatasetEntry | Contract,
    input_path: Path,
    *,
    outcomes_path: Path | None = None,
    date_column: str | None = None,
    start: date | None = None,
    days: int | None = None,
    id_column: str | None = None,
    first_id: int = 1,
    label_column: str | None = None,
    label_delay_days: int | None = None,
    strict: bool = False,
) -> OwnLanding:
    """Land the rows of `input_path` for the dataset's contract (see the module docstring): each row on its
    `date_column` day, or spread over `days` days from `start` in file order; its key from `id_column` (default: the
    contract's key column, if the file has it) or generated (`first_id`, `first_id` + 1, ... in file order); its
    outcome from the label column (`label_column`, default the contract's label) or from `outcomes_path`, landed
    `label_delay_days` later (default: the contract's `label_delay_days`, else 30).

    Idempotent: the same file and arguments give the same bytes, and identical files are left untouched. A landed
    file that would differ raises `LandingConflictError` naming it before anything is written."""
    entry = dataset if isinstance(dataset, DatasetEntry) else DatasetEntry(dataset)
    contract = entry.contract
    entity, outcome = contract.entity, contract.outcome
    if (date_column is None) == (start is None or days is None) or (date_column and (start or days)):
        raise OwnDataError(
            "give the days either as a date column (--date-column NAME) or as a spread (--start YYYY-MM-DD and "
            "--days N), one of them"
        )
    if days is not None and days < 1:
        raise OwnDataError(f"--days must be at least 1, got {days}")
    if label_delay_days is not None and label_delay_days < 0:
        raise OwnDataError(f"--label-delay-days must be 0 or more, got {label_delay_days}")
    declared_delay = contract_label_delay(contract)
    if label_delay_days is not None:
        delay, delay_from = label_delay_days, "--label-delay-days"
    elif declared_delay is not None:
        delay, delay_from = declared_delay, "the contract's label_delay_days"
    else:
        delay, delay_from = DEFAULT_LABEL_DELAY_DAYS, f"default {DEFAULT_LABEL_DELAY_DAYS}: the contract sets none"

    table = read_input(input_path)
    label_file = label_column or contract.label
    key_file = id_column or (contract.key if contract.key in table.header else None)
    if outcomes_path is not None and key_file is None:
        raise OwnDataError(
            f"{table.path}: with a separate outcomes file each outcome names its application by id: give the id "
            f"column both files have with --id-column (the contract's key is {contract.key!r})"
        )
    computed = {contract.key, contract.label_time, contract.application_time}
    extra_outcome = [c for c in outcome.columns if c.name not in computed and c.name != contract.label]

    # The header: the contract's entity columns (the key under --id-column's name, or none when generated), then,
    # without an outcomes file, the label and the outcome's other columns (nullable ones optional), and the date.
    expected: dict[str, ColumnSpec] = {}
    for column in entity.columns:
        if column.name == contract.key:
            if key_file is not None:
                expected[key_file] = column
        else:
            expected[column.name] = column
    optional: set[str] = set()
    outcome_columns: list[tuple[str, ColumnSpec]] = []
    if outcomes_path is None:
        outcome_columns.append((label_file, outcome.column(contract.label)))
        outcome_columns += [(c.name, c) for c in extra_outcome]
        optional |= {c.name for c in extra_outcome if c.nullable}
    expected_names = [*expected, *(name for name, _ in outcome_columns)]
    if date_column is not None and date_column not in expected_names:
        expected_names.append(date_column)
    _check_header(table, expected_names, optional, contract, entry, label_file, key_file, label_column, id_column)
    _refuse_malformed(table)
    if table.rows == 0:
        raise OwnDataError(f"{table.path}: no rows under the header; nothing to land")

    values = table.values
    # The day of each row.
    if date_column is not None:
        values = values.with_columns(_parse_days(values[date_column]))
        undated = values.filter(pl.col(DAY).is_null())
        if undated.height:
            raise OwnDataError(
                f"{table.path}: {undated.height} row(s) have no readable day in --date-column {date_column} "
                f"({_findings_lines(undated, table)}); dates are YYYY-MM-DD (a time after it is ignored). "
                "Nothing was written."
            )
        days_rule = f"from column {date_column}"
    else:
        if table.rows < days:
            raise OwnDataError(
                f"{table.path}: cannot spread {table.rows} row(s) over {days} days; use at most {table.rows} days"
            )
        values = values.with_columns(_spread_days(table.rows, start, days))
        per_day = divmod(table.rows, days)
        days_rule = f"spread in file order from {start}: {per_day[0]} row(s) a day" + (
            f", the first {per_day[1]} day(s) one more" if per_day[1] else ""
        )
    # The key of each row.
    if key_file is None:
        values = values.with_columns(
            pl.int_range(first_id, first_id + table.rows, dtype=pl.Int64).cast(pl.String).alias(KEY)
        )
        ids = f"generated {first_id}..{first_id + table.rows - 1} in file order into {contract.key} (--first-id)"
    else:
        values = values.with_columns(pl.col(key_file).alias(KEY))
        ids = f"from column {key_file}" + (f" into {contract.key}" if key_file != contract.key else "")

    findings = check_values(values, list(expected.items()), entity.name, table)
    if key_file is not None:
        repeated = values.filter(pl.struct(DAY, pl.col(KEY).str.strip_chars()).is_duplicated())
        if repeated.height:
            findings.append(
                Finding(
                    entity.name,
                    "duplicate_key",
                    contract.key,
                    repeated.height,
                    tuple(repeated[LINE].head(SHOWN_LINES).to_list()),
                    key_file,
                    table.path.name,
                    table.unit,
                )
            )
    notes: list[str] = []
    if outcomes_path is None:
        label_spec = outcome.column(contract.label)
        unlabelled = values.filter(pl.col(label_file).str.strip_chars().fill_null("") == "")
        outcomes = values if label_spec.nullable else values.filter(pl.col(label_file).str.strip_chars() != "")
        findings += check_values(outcomes, outcome_columns, outcome.name, table)
        if unlabelled.height and not label_spec.nullable:
            notes.append(
                f"{unlabelled.height} row(s) have no label in {label_file} ({_findings_lines(unlabelled, table)}): "
                "their applications are landed, with no outcome (an outcome not known yet)"
            )
        outcomes = outcomes.select(
            KEY,
            DAY,
            pl.col(label_file).alias(contract.label),
            *[c.name for c in extra_outcome if c.name in table.header],
        )
    else:
        outcomes, outcome_findings = _outcomes_file(
            Path(outcomes_path), values, entry, key_file, label_file, extra_outcome, id_column, label_column
        )
        findings += outcome_findings
    notes += _label_notes(outcomes, contract)
    if strict and findings:
        raise OwnDataError(
            f"{table.path}: --strict and {len(findings)} rule(s) broken: "
            + "; ".join(f.describe() for f in findings)
            + ". Nothing was written."
        )

    stem = _file_stem(table.path)
    planned = _planned_files(Path(landing_dir), values, outcomes, contract, delay, stem)
    conflicts = [path for path, _, _, frame in planned if path.exists() and path.read_bytes() != csv_bytes(frame)]
    if conflicts:
        named = ", ".join(str(p) for p in conflicts[:SHOWN_LINES]) + (" ..." if len(conflicts) > SHOWN_LINES else "")
        raise LandingConflictError(
            f"{len(conflicts)} landing file(s) already exist with different content: {named}; landed files are "
            "never modified, and nothing was written (land the changed file under another name, or into another "
            "--home)"
        )
    feeds: dict[str, list[int]] = {
        str(Path(landing_dir) / entity.name): [0, 0],
        str(Path(landing_dir) / outcome.name): [0, 0],
    }
    for path, feed, day, frame in planned:
        written = write_day_file_once(Path(landing_dir), feed, day, frame, path.name)
        feeds[str(Path(landing_dir) / feed)][0 if written else 1] += 1
    application_days = values[DAY].unique().sort()
    outcome_days = outcomes[DAY].unique().sort() if outcomes.height else application_days.head(0)
    written = sum(counts[0] for counts in feeds.values())
    identical = sum(counts[1] for counts in feeds.values())
    summary = LandingSummary(
        landing_dir=Path(landing_dir),
        days=application_days.len(),
        rows=table.rows,
        first_application_day=application_days[0],
        last_application_day=application_days[-1],
        last_outcome_day=(outcome_days[-1] if outcome_days.len() else application_days[-1]) + timedelta(days=delay),
        files_written=written,
        files_unchanged=identical,
    )
    return OwnLanding(
        dataset=contract.name,
        contract_file=contract.source,
        input=table.path,
        landing=summary,
        feeds={folder: (counts[0], counts[1]) for folder, counts in feeds.items()},
        outcome_rows=outcomes.height,
        ids=ids,
        days_rule=days_rule,
        label_delay_days=delay,
        label_delay_from=delay_from,
        findings=tuple(findings),
        notes=tuple(notes),
        etl_job=entry.etl_job,
        unit=table.unit,
    )


def _check_header(
    table: InputTable,
    expected: list[str],
    optional: set[str],
    contract: Contract,
    entry: DatasetEntry,
    label_file: str,
    key_file: str | None,
    label_column: str | None,
    id_column: str | None,
) -> None:
    missing = [name for name in expected if name not in table.header and name not in optional]
    extra = [name for name in table.header if name not in expected and name not in optional]
    if not (missing or extra):
        return
    hints = ["The file's columns must carry the contract's names:"]
    if label_file in missing and label_column is None:
        hints.append(f"name the file's label column with --label-column (the contract's label is {contract.label});")
    if key_file is None:
        hints.append(
            f"ids are generated into {contract.key} (the file has no {contract.key} column; name an id column with "
            "--id-column);"
        )
    elif id_column is not None and id_column in missing:
        hints.append(f"--id-column {id_column} is not a column of the file;")
    hints.append("edit the contract or the file so that they agree.")
    raise HeaderMismatchError(table.path, missing, extra, contract, hints)


def _outcomes_file(
    path: Path,
    applications: pl.DataFrame,
    entry: DatasetEntry,
    key_file: str,
    label_file: str,
    extra_outcome: list[ColumnSpec],
    id_column: str | None,
    label_column: str | None,
) -> tuple[pl.DataFrame, list[Finding]]:
    contract = entry.contract
    table = read_input(path)
    columns = [(label_file, contract.outcome.column(contract.label)), *[(c.name, c) for c in extra_outcome]]
    optional = {c.name for c in extra_outcome if c.nullable}
    _check_header(
        table,
        [key_file, *(n for n, _ in columns)],
        optional,
        contract,
        entry,
        label_file,
        key_file,
        label_column,
        id_column,
    )
    _refuse_malformed(table)
    keys = applications.select(pl.col(KEY).str.strip_chars(), DAY)
    repeated = keys.filter(pl.col(KEY).is_duplicated())
    if repeated.height:
        raise OwnDataError(
            f"{path}: an outcome names its application by {key_file}, but {repeated.height} application row(s) share "
            f"an id ({repeated[KEY].head(SHOWN_LINES).to_list()}); give each application its own id. Nothing was "
            "written."
        )
    values = table.values.with_columns(pl.col(key_file).str.strip_chars().alias(KEY))
    doubled = values.filter(pl.col(KEY).is_duplicated())
    if doubled.height:
        raise OwnDataError(
            f"{path}: {doubled.height} outcome row(s) repeat an id ({_findings_lines(doubled, table)}); one outcome "
            "per application. Nothing was written."
        )
    matched = values.join(keys, on=KEY, how="left")
    orphans = matched.filter(pl.col(DAY).is_null())
    if orphans.height:
        raise OwnDataError(
            f"{path}: {orphans.height} outcome(s) name no application of {applications.height} in the applications "
            f"file ({_findings_lines(orphans, table)}). Nothing was written."
        )
    findings = check_values(values, columns, contract.outcome.name, table)
    present = [c.name for c in extra_outcome if c.name in table.header]
    return (
        matched.sort(LINE).select(KEY, DAY, pl.col(label_file).alias(contract.label), *present),
        findings,
    )


def _label_notes(outcomes: pl.DataFrame, contract: Contract) -> list[str]:
    """Training needs 0/1 labels: without `label_positive` the label is used as landed."""
    if contract.label_positive is not None or not outcomes.height:
        return []
    spec = contract.outcome.column(contract.label)
    typed = outcomes.select(_typed(replace(spec, name=contract.label)).alias("label"))["label"].drop_nulls()
    others = sorted({v for v in typed.unique().to_list() if v not in (0, 1)}, key=str)
    if not others:
        return []
    return [
        f"the contract has no label_positive and the labels include {others[:5]}: training needs 0/1 labels; add "
        f"`label_positive: <the positive value>` to {contract.source or 'the contract'}"
    ]


def _planned_files(
    landing_dir: Path,
    values: pl.DataFrame,
    outcomes: pl.DataFrame,
    contract: Contract,
    delay: int,
    stem: str,
) -> list[tuple[Path, str, date, pl.DataFrame]]:
    """(path, feed, folder day, frame) of every file to land: each day's applications in file order, as landed text,
    and the outcomes of each application day `delay` days later."""
    entity, outcome = contract.entity, contract.outcome
    entity_frame = values.select(
        DAY, *[(pl.col(KEY) if c.name == contract.key else pl.col(c.name)).alias(c.name) for c in entity.columns]
    )
    outcome_exprs = []
    for column in outcome.columns:
        if column.name == contract.key:
            outcome_exprs.append(pl.col(KEY).alias(column.name))
        elif column.name == contract.label_time:
            outcome_exprs.append((pl.col(DAY) + timedelta(days=delay)).cast(pl.String).alias(column.name))
        elif column.name == contract.application_time:
            outcome_exprs.append(pl.col(DAY).cast(pl.String).alias(column.name))
        elif column.name in outcomes.columns:
            outcome_exprs.append(pl.col(column.name).cast(pl.String))
        else:  # a nullable outcome column the file does not have
            outcome_exprs.append(pl.lit(None, pl.String).alias(column.name))
    outcome_frame = outcomes.select(DAY, *outcome_exprs)
    planned = []
    for (day,), part in entity_frame.partition_by(DAY, as_dict=True, maintain_order=True).items():
        name = f"{stem}_{day.isoformat()}.csv"
        planned.append((day_dir(landing_dir, entity.name, day) / name, entity.name, day, part.drop(DAY)))
    for (day,), part in outcome_frame.partition_by(DAY, as_dict=True, maintain_order=True).items():
        landed = day + timedelta(days=delay)
        name = f"{stem}_{day.isoformat()}.csv"
        planned.append((day_dir(landing_dir, outcome.name, landed) / name, outcome.name, landed, part.drop(DAY)))
    return sorted(planned, key=lambda item: (item[1] != entity.name, item[2]))


# ----------------------------------------------------------------------------------------------------------- drafting


@dataclass(frozen=True)
class Draft:
    """A drafted dataset: its contract and defs.yaml as written, the loaded contract and its feature set."""

    contract_file: Path
    defs_file: Path
    contract: Contract
    features: FeatureSet
    not_features: tuple[str, ...]
    notes: tuple[str, ...]

    def describe(self) -> str:
        c = self.contract
        lines = [f"drafted dataset {c.name} from {len(c.entity.columns)} application column(s):"]
        for column in c.entity.columns:
            lines.append(f"  {column.name}: {column.type}{_rules_text(column)}")
        label = c.outcome.column(c.label)
        lines.append(
            f"  label {c.label}: {label.type}{_rules_text(label)}, positive class {c.label_positive!r} "
            f"(gold labels store 1 where the label is {c.label_positive!r}, else 0)"
        )
        categorical = [n for n in self.features.names if n in self.features.categories]
        numeric = [n for n in self.features.names if n not in self.features.categories]
        lines.append(
            f"  features (no features module: the contract's columns as they are): {len(numeric)} numeric "
            f"({', '.join(numeric) or 'none'}), {len(categorical)} categorical, one-hot encoded "
            f"({', '.join(categorical) or 'none'})"
            + (f"; not features: {', '.join(self.not_features)}" if self.not_features else "")
        )
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"wrote {self.contract_file}", f"wrote {self.defs_file}"]
        return "\n".join(lines)


def _rules_text(column: ColumnSpec) -> str:
    parts = []
    if column.allowed is not None:
        parts.append(f"allowed {list(column.allowed)}")
    if column.min is not None:
        parts.append(f">= {column.min}")
    if column.max is not None:
        parts.append(f"<= {column.max}")
    if column.nullable:
        parts.append(f"nullable (max_null_rate {column.max_null_rate:g})")
    return f", {', '.join(parts)}" if parts else ""


def _present(values: pl.Series) -> pl.Series:
    stripped = values.str.strip_chars()
    return stripped.filter(stripped.is_not_null() & (stripped != ""))


def infer_column(name: str, values: pl.Series, rows: int) -> tuple[dict[str, Any], str | None]:
    """A column's contract entry from its text values, and a remark for the YAML comment (or None)."""
    present = _present(values)
    spec: dict[str, Any] = {"name": name}
    remark = None
    if present.len() == 0:
        spec["type"] = "string"
        remark = "every value is empty"
    else:
        ints = present.cast(pl.Int64, strict=False)
        floats = present.cast(pl.Float64, strict=False)
        if ints.null_count() == 0:
            low, high = int(ints.min()), int(ints.max())
            spec["type"] = (
                "int8" if -128 <= low and high <= 127 else "int16" if -32768 <= low and high <= 32767 else "int64"
            )
            distinct = sorted(ints.unique().to_list())
            if spec["type"] == "int8" and len(distinct) <= MAX_ALLOWED:
                spec["allowed"] = distinct
                remark = f"{len(distinct)} distinct values: allowed lists them (a value outside is quarantined)"
            else:
                spec["min"], spec["max"] = low, high
                remark = "min/max: the file's range; widen them to what is valid"
        elif floats.null_count() == 0 and bool(floats.is_finite().all()):
            spec["type"] = "float64"
            spec["min"], spec["max"] = float(floats.min()), float(floats.max())
            remark = "min/max: the file's range; widen them to what is valid"
        elif _parse_days(present).null_count() == 0 and present.str.len_chars().max() == 10:
            spec["type"] = "date"
            remark = "a date: not a feature"
        else:
            spec["type"] = "string"
            distinct = sorted(present.unique().to_list())
            if len(distinct) <= MAX_ALLOWED:
                spec["allowed"] = distinct
            else:
                remark = f"{len(distinct)} distinct values: no allowed list, so not a feature (text needs allowed)"
    missing = rows - present.len()
    if missing:
        spec["nullable"] = True
        spec["max_null_rate"] = min(1.0, math.ceil(missing / rows * 100) / 100)
    return spec, remark


def _flow(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, default_flow_style=True, sort_keys=False, width=1_000_000).strip()


def _scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _unused(name: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    while name in taken:
        name = f"{name}_"
    return name


def draft_contract(
    input_path: Path,
    dataset: str,
    label_column: str,
    *,
    id_column: str | None = None,
    date_column: str | None = None,
    positive_label: str | None = None,
    label_delay_days: int = DEFAULT_LABEL_DELAY_DAYS,
    out: Path | None = None,
    defs_root: Path = DEFS_ROOT,
) -> Draft:
    """Draft `contract.yaml` and `defs.yaml` (`ml: true`) for a new dataset from a file, in `out` (default
    `<defs_root>/<dataset>/`), refusing to overwrite either file. The draft is loaded with the contract model, its
    feature set built, and its tables and ML names checked against the datasets defined under `defs_root` before
    anything is written."""
    if not SNAKE_CASE.fullmatch(dataset):
        raise OwnDataError(f"dataset name {dataset!r}: use lower-case letters, digits and '_' (it names tables)")
    if label_delay_days < 0:
        raise OwnDataError(f"--label-delay-days must be 0 or more, got {label_delay_days}")
    folder = Path(out) if out is not None else Path(defs_root) / dataset
    contract_file, defs_file = folder / CONTRACT_FILE, folder / DEFS_FILE
    existing = [str(p) for p in (contract_file, defs_file) if p.exists()]
    if existing:
        raise OwnDataError(f"{', '.join(existing)} already exist(s); drafts never overwrite: choose another --out")
    defined = defined_datasets(defs_root) if Path(defs_root).is_dir() else {}
    if dataset in defined:
        raise OwnDataError(
            f"dataset {dataset!r} is already defined ({defined[dataset].defs_file}); choose another name"
        )

    table = read_input(input_path)
    _refuse_malformed(table)
    if table.rows == 0:
        raise OwnDataError(f"{table.path}: no rows under the header; a contract is drafted from the values")
    bad_names = [h for h in table.header if not IDENTIFIER.fullmatch(h)]
    if bad_names:
        raise OwnDataError(
            f"{table.path}: column name(s) {bad_names} cannot name a table column (letters, digits and '_' only, "
            "starting with a letter or '_', at most 63 characters): rename them in the file's header"
        )
    for option, column in (
        ("--label-column", label_column),
        ("--id-column", id_column),
        ("--date-column", date_column),
    ):
        if column is not None and column not in table.header:
            raise OwnDataError(
                f"{table.path}: {option} {column} is not a column of the file ({', '.join(table.header)})"
            )
    if len({c for c in (label_column, id_column, date_column) if c is not None}) < sum(
        c is not None for c in (label_column, id_column, date_column)
    ):
        raise OwnDataError("--label-column, --id-column and --date-column must name different columns")
    if id_column is None and GENERATED_KEY in table.header:
        raise OwnDataError(
            f"{table.path}: the file has a column {GENERATED_KEY}: name it as the key with --id-column "
            f"{GENERATED_KEY}, or rename it (generated ids are named {GENERATED_KEY})"
        )

    notes: list[str] = []
    values = table.values
    # The key.
    if id_column is not None:
        key_spec, _ = infer_column(id_column, values[id_column], table.rows)
        if key_spec.get("nullable"):
            raise OwnDataError(f"{table.path}: the id column {id_column} has empty values; a key needs one per row")
        key = id_column
        key_entry = {"name": key, "type": key_spec["type"], "description": "the entity's key, from the file"}
        if values[id_column].str.strip_chars().is_duplicated().any():
            notes.append(f"{id_column} repeats within the file: a key repeated on one day keeps its last row only")
    else:
        key = GENERATED_KEY
        key_entry = {
            "name": key,
            "type": "int64",
            "min": 1,
            "description": "generated by medallion land: the row's position in the file (from --first-id)",
        }
    # The label.
    label_spec, _ = infer_column(label_column, values[label_column], table.rows)
    label_values = _present(values[label_column]).unique()
    if label_spec["type"] in ("float64", "date") or label_values.len() > MAX_ALLOWED:
        raise OwnDataError(
            f"{table.path}: the label column {label_column} holds {label_values.len()} distinct "
            f"{label_spec['type']} values: a class label has a few (the model predicts one class against the rest)"
        )
    if label_values.len() < 2:
        raise OwnDataError(f"{table.path}: the label column {label_column} has one class only; training needs two")
    classes = label_spec.pop("allowed", None) or sorted(
        label_values.cast(pl.Int64).to_list() if label_spec["type"].startswith("int") else label_values.to_list()
    )
    for setting in ("min", "max", "nullable", "max_null_rate"):
        label_spec.pop(setting, None)
    label_spec["allowed"] = classes
    label_spec["description"] = "the class the model learns to predict"
    unlabelled = int(values[label_column].str.strip_chars().fill_null("").eq("").sum())
    if unlabelled:
        notes.append(f"{unlabelled} row(s) have no label: medallion land lands their applications without an outcome")
    positive, positive_comment = _positive(classes, label_spec["type"], positive_label, values[label_column])
    notes.append(positive_comment)
    # The application columns.
    entity_lines, not_features = [], []
    for name in table.header:
        if name in (label_column, date_column, id_column):
            continue
        spec, remark = infer_column(name, values[name], table.rows)
        line = f"    - {_flow(spec)}"
        if remark:
            line += f"  # {remark}"
        entity_lines.append(line)
        if spec["type"] == "date" or (spec["type"] == "string" and "allowed" not in spec):
            not_features.append(name)
    if date_column is not None:
        notes.append(f"{date_column} is the landing day (medallion land --date-column {date_column}), not a column")
    outcome_date = _unused("outcome_date", [key, label_column])
    application_date = _unused("application_date", [key, label_column, outcome_date])
    text = _contract_text(
        dataset,
        table,
        key,
        key_entry,
        entity_lines,
        label_column,
        label_spec,
        positive,
        positive_comment,
        outcome_date,
        application_date,
        label_delay_days,
        not_features,
    )
    contract = _validate_draft(text, contract_file, defined)
    features = feature_set_for(contract)
    folder.mkdir(parents=True, exist_ok=True)
    defs_text = (
        f"# Drafted by `medallion init-contract` from {table.path.name}: review contract.yaml, then `dg check defs`.\n"
        f"# `ml: true` gives the dataset its own ML lifecycle (jobs training_job__{dataset}, ...; ETL etl_job__"
        f"{dataset}).\n"
        "type: medallion.components.Dataset\n"
        "attributes:\n"
        f"  contract: {CONTRACT_FILE}\n"
        "  ml: true\n"
    )
    with open(contract_file, "x", encoding="utf-8") as stream:
        stream.write(text)
    try:
        with open(defs_file, "x", encoding="utf-8") as stream:
            stream.write(defs_text)
    except FileExistsError:
        contract_file.unlink()
        raise
    return Draft(contract_file, defs_file, contract, features, tuple(not_features), tuple(notes))


def _positive(classes: list, label_type: str, given: str | None, labels: pl.Series) -> tuple[Any, str]:
    """The positive class and how it was chosen: --positive-label, 1 of a 0/1 label, else the rarer of two classes."""
    if given is not None:
        value: Any = given
        if label_type.startswith("int"):
            try:
                value = int(given)
            except ValueError:
                raise OwnDataError(f"--positive-label {given!r}: the label's classes are {classes}") from None
        if value not in classes:
            raise OwnDataError(f"--positive-label {given!r} is not one of the label's classes {classes}")
        return value, f"label_positive {value!r} as --positive-label says"
    if set(classes) == {0, 1}:
        return 1, "label_positive 1: a 0/1 label"
    if len(classes) != 2:
        raise OwnDataError(
            f"the label has {len(classes)} classes {classes}: say which is the positive one with --positive-label "
            "(the model predicts it against the rest)"
        )
    counts = _present(labels).value_counts()
    counts = {str(v): n for v, n in counts.iter_rows()}
    rarer = min(classes, key=lambda c: (counts.get(str(c), 0), str(c)))
    shares = ", ".join(f"{c}: {counts.get(str(c), 0)}" for c in classes)
    return rarer, (
        f"label_positive {rarer!r} is a guess, the rarer class ({shares}): REVIEW it, or draft again with "
        "--positive-label"
    )


def _contract_text(
    dataset: str,
    table: InputTable,
    key: str,
    key_entry: dict,
    entity_lines: list[str],
    label: str,
    label_spec: dict,
    positive: Any,
    positive_comment: str,
    outcome_date: str,
    application_date: str,
    label_delay_days: int,
    not_features: list[str],
) -> str:
    outcome_key = {k: v for k, v in key_entry.items() if k != "description"}
    excluded = f" Not features: {', '.join(not_features)}." if not_features else ""
    return "\n".join(
        [
            f"# Drafted by `medallion init-contract` from {table.path.name} ({table.rows} rows). REVIEW it:",
            "# - min/max and allowed are what the file holds: widen them to what is valid, or new rows outside them",
            "#   are quarantined in silver (and int8/int16 hold -128..127 / -32768..32767).",
            "# - nullable/max_null_rate follow the file's empty values; completeness warns above max_null_rate.",
            "# - No `features:` module: the features are the application columns as they are, numeric ones as floats",
            "#   and text ones with `allowed` one-hot encoded (medallion/logic/etl/feature_sets.py)." + excluded,
            "#   Name a module (engineer_features, FEATURE_SET_VERSION, FEATURE_SPECS) with `features:` for others.",
            f"name: {dataset}",
            f"description: {_scalar(f'Drafted from {table.path.name}: describe the dataset here.')}",
            "tables:",
            f"  quarantine: {dataset}_quarantine",
            f"  features: {dataset}_features",
            f"  labels: {dataset}_labels",
            "max_quarantine_rate: 0.05",
            "",
            "entity:",
            f"  feed: {dataset}",
            f"  key: {key}",
            "  columns:",
            f"    - {_flow(key_entry)}",
            *entity_lines,
            "",
            "outcome:",
            f"  feed: {dataset}_outcomes",
            f"  key: {key}",
            "  columns:",
            f"    - {_flow(outcome_key)}",
            f"    - {_flow(label_spec)}",
            f"    - {_flow({'name': outcome_date, 'type': 'date', 'description': 'the day the outcome became known'})}",
            "    - "
            + _flow(
                {
                    "name": application_date,
                    "type": "date",
                    "nullable": True,
                    "description": "the day of the application it resolves",
                }
            ),
            f"label: {label}",
            f"label_positive: {_scalar(positive)}  # {positive_comment}",
            f"label_time: {outcome_date}",
            f"application_time: {application_date}",
            "# Outcomes land this many days after their application (medallion land's default delay).",
            f"label_delay_days: {label_delay_days}",
            "",
        ]
    )


def _validate_draft(text: str, contract_file: Path, defined: dict[str, DatasetEntry]) -> Contract:
    """The draft loaded as the code location will load it, with its tables and ML names apart from every other's."""
    from medallion.ml_settings import check_no_shared_ml, resolve_ml

    try:
        contract = parse_contract(yaml.safe_load(text), source=contract_file)
    except ContractError as error:
        raise OwnDataError(f"the drafted contract does not load: {error}") from error
    check_no_shared_tables([*(entry.contract for entry in defined.values()), contract])
    declared = [
        (str(entry.defs_file), ml)
        for entry in defined.values()
        if (ml := resolve_ml(entry.contract.name, entry.ml, str(entry.defs_file))) is not None
    ]
    mine = resolve_ml(contract.name, True, str(contract_file.parent / DEFS_FILE))
    check_no_shared_ml([*declared, (str(contract_file.parent / DEFS_FILE), mine)])
    return contract
