"""The contract model: what a dataset's feeds must look like, read from YAML and validated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

POLARS_TYPES: dict[str, pl.DataType] = {
    "int8": pl.Int8,
    "int16": pl.Int16,
    "int32": pl.Int32,
    "int64": pl.Int64,
    "float64": pl.Float64,
    "string": pl.String,
    "date": pl.Date,
    "bool": pl.Boolean,
}


class ContractError(ValueError):
    """A contract file is malformed; the message names the file, the setting and the allowed values."""


# Dataset, feed, table and column names become SQL identifiers and asset keys: only plain names are accepted.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def _identifier(value: Any, where: str, setting: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise ContractError(
            f"{where}: `{setting}: {value!r}` is not allowed; a name used in SQL has letters, digits and '_' only, "
            "starts with a letter or '_' and has at most 63 characters"
        )
    return value


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    max_null_rate: float = 0.0
    description: str = ""

    @property
    def dtype(self) -> pl.DataType:
        return POLARS_TYPES[self.type]

    @property
    def is_numeric(self) -> bool:
        return self.type.startswith(("int", "float"))


@dataclass(frozen=True)
class FeedSpec:
    """One landing feed: `landing/<name>/<day>/*.csv`, stored as bronze/<name> and silver/<name>."""

    name: str
    key: str
    columns: tuple[ColumnSpec, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    name: str
    description: str
    entity: FeedSpec
    outcome: FeedSpec
    label: str
    label_time: str
    features_module: str | None
    quarantine_table: str
    features_table: str
    labels_table: str
    max_quarantine_rate: float
    source: Path | None = field(default=None, compare=False)
    # The outcome column naming the day of the application it resolves; rows where it is empty (or contracts
    # without it) resolve the latest application of the key at least label_maturity_days before the outcome.
    application_time: str | None = None
    # An outcome resolves an application only once it is this many days old: earlier ones are rejected as immature.
    label_maturity_days: int = 0
    # How many days after its application an outcome is expected to land: no outcome is due before then.
    label_delay_days: int = 0
    # Who answers for the dataset's tables: e-mail addresses or team:<name>, shown as owners in the catalog.
    owners: tuple[str, ...] = ()
    # The label value stored as 1 (the rest as 0) in gold labels; any type the column holds. None: kept as landed.
    label_positive: Any = None

    @property
    def feeds(self) -> tuple[FeedSpec, FeedSpec]:
        return (self.entity, self.outcome)

    @property
    def key(self) -> str:
        return self.entity.key


def _mapping(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: expected a mapping of settings, found {type(raw).__name__} {raw!r}")
    return raw


def _require(raw: dict, key: str, where: str) -> Any:
    if key not in _mapping(raw, where):
        raise ContractError(f"{where}: missing required setting `{key}`")
    return raw[key]


def _parse_column(raw: dict, where: str) -> ColumnSpec:
    name = _identifier(_require(raw, "name", where), where, "name")
    where = f"{where} column {name!r}"
    col_type = _require(raw, "type", where)
    if col_type not in POLARS_TYPES:
        raise ContractError(f"{where}: `type: {col_type}` is not allowed; use one of {', '.join(POLARS_TYPES)}")
    unknown = set(raw) - {"name", "type", "nullable", "min", "max", "allowed", "max_null_rate", "description"}
    if unknown:
        raise ContractError(f"{where}: unknown setting(s) {sorted(unknown)}")
    allowed = raw.get("allowed")
    return ColumnSpec(
        name=name,
        type=col_type,
        nullable=bool(raw.get("nullable", False)),
        min=raw.get("min"),
        max=raw.get("max"),
        allowed=tuple(allowed) if allowed is not None else None,
        max_null_rate=float(raw.get("max_null_rate", 0.0)),
        description=raw.get("description", ""),
    )


def _parse_feed(raw: dict, where: str) -> FeedSpec:
    name = _identifier(_require(raw, "feed", where), where, "feed")
    where = f"{where} feed {name!r}"
    columns = tuple(_parse_column(c, where) for c in _require(raw, "columns", where))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names {sorted({n for n in names if names.count(n) > 1})}")
    key = _require(raw, "key", where)
    if key not in names:
        raise ContractError(f"{where}: `key: {key}` is not one of its columns {names}")
    return FeedSpec(name=name, key=key, columns=columns)


def parse_contract(raw: dict, source: Path | None = None) -> Contract:
    where = str(source or "contract")
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: expected a mapping at the top level")
    name = _identifier(_require(raw, "name", where), where, "name")
    entity = _parse_feed(_require(raw, "entity", where), where)
    outcome = _parse_feed(_require(raw, "outcome", where), where)
    label = _require(raw, "label", where)
    label_time = _require(raw, "label_time", where)
    for setting, column in (("label", label), ("label_time", label_time)):
        if column not in outcome.column_names:
            raise ContractError(f"{where}: `{setting}: {column}` must be a column of feed {outcome.name!r}")
    if outcome.key != entity.key:
        raise ContractError(f"{where}: the outcome key {outcome.key!r} must equal the entity key {entity.key!r}")
    application_time = raw.get("application_time")
    if application_time is not None and (
        application_time not in outcome.column_names or outcome.column(application_time).type != "date"
    ):
        raise ContractError(
            f"{where}: `application_time: {application_time}` must be a date column of feed {outcome.name!r}"
        )
    maturity, delay = (_days(raw, setting, where) for setting in ("label_maturity_days", "label_delay_days"))
    label_positive = _label_positive(raw, outcome.column(label), where)
    tables = _mapping(raw.get("tables", {}), f"{where}: `tables`")
    for setting, table in tables.items():
        _identifier(table, where, f"tables.{setting}")
    return Contract(
        name=name,
        description=raw.get("description", ""),
        entity=entity,
        outcome=outcome,
        label=label,
        label_time=label_time,
        features_module=raw.get("features"),
        quarantine_table=tables.get("quarantine", f"{entity.name}_quarantine"),
        features_table=tables.get("features", f"{entity.name}_features"),
        labels_table=tables.get("labels", f"{entity.name}_labels"),
        max_quarantine_rate=float(raw.get("max_quarantine_rate", 0.05)),
        source=source,
        application_time=application_time,
        label_maturity_days=maturity,
        label_delay_days=delay,
        owners=_owners(raw.get("owners", []), where),
        label_positive=label_positive,
    )


OWNER = re.compile(r"(team:[A-Za-z0-9_-]+|[^@\s]+@[^@\s]+\.[^@\s]+)")


def _owners(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(o, str) and OWNER.fullmatch(o) for o in raw):
        raise ContractError(f"{where}: `owners: {raw!r}` must be a list of e-mail addresses or team:<name> entries")
    return tuple(raw)


def _days(raw: dict, setting: str, where: str) -> int:
    value = raw.get(setting, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ContractError(f"{where}: `{setting}: {value!r}` must be a whole number of days, 0 or more")
    return value


def _label_positive(raw: dict, column: ColumnSpec, where: str) -> Any:
    """The declared positive value; None when undeclared (the label is then used as landed, so it must be 0/1)."""
    if "label_positive" not in raw:
        return None
    positive = raw["label_positive"]
    if column.type in ("string", "bool"):
        typed = isinstance(positive, str if column.type == "string" else bool)
    else:
        typed = isinstance(positive, int | float) and not isinstance(positive, bool)
    if not typed or (column.allowed is not None and positive not in column.allowed):
        allowed = f"one of {list(column.allowed)}" if column.allowed is not None else f"a {column.type} value"
        raise ContractError(
            f"{where}: `label_positive: {positive!r}` must be {allowed} of the label column {column.name!r}"
        )
    return positive


def load_contract(path: str | Path) -> Contract:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from error
    return parse_contract(raw, source=path)


def check_no_shared_tables(contracts: list[Contract]) -> None:
    """Two datasets may not claim the same table; the message names both contract files."""
    owners: dict[tuple[str, str], list[str]] = {}
    for contract in contracts:
        for table in _tables(contract):
            owners.setdefault(table, []).append(str(contract.source or contract.name))
    clashes = {table: files for table, files in sorted(owners.items()) if len(files) > 1}
    if clashes:
        described = "; ".join(f"{'.'.join(table)} by {', '.join(files)}" for table, files in clashes.items())
        raise ContractError(f"two contracts claim the same table(s): {described}; rename a feed or set `tables:`")


def _tables(contract: Contract) -> list[tuple[str, str]]:
    feeds = [f.name for f in contract.feeds]
    return (
        [("bronze", f) for f in feeds]
        + [("silver", f) for f in feeds]
        + [("silver", contract.quarantine_table), ("gold", contract.features_table), ("gold", contract.labels_table)]
    )
