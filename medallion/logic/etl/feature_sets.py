"""Which feature function a contract uses: its own features module, or its typed columns as they are (numeric ones
as floats, strings with `allowed` values as categorical codes)."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from medallion.contract import Contract, ContractError


@dataclass(frozen=True)
class FeatureSet:
    version: str
    specs: dict[str, tuple[float, float, float]]
    engineer: Callable[[pl.DataFrame], pl.DataFrame]
    # Categorical features by name → their values; gold holds each value's position, the pipeline one-hot encodes it.
    categories: dict[str, tuple] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.specs)


def feature_set_for(contract: Contract) -> FeatureSet:
    if contract.features_module:
        try:
            module = importlib.import_module(contract.features_module)
        except ImportError as error:
            raise ContractError(
                f"{contract.source}: `features: {contract.features_module}` cannot be imported: {error}"
            ) from error
        missing = [n for n in ("engineer_features", "FEATURE_SET_VERSION", "FEATURE_SPECS") if not hasattr(module, n)]
        if missing:
            raise ContractError(f"{contract.source}: features module {contract.features_module} lacks {missing}")
        return FeatureSet(module.FEATURE_SET_VERSION, dict(module.FEATURE_SPECS), module.engineer_features)
    return _identity_features(contract)


def _identity_features(contract: Contract) -> FeatureSet:
    """Without a features module, the entity's numeric non-key columns are the features, bounded as the contract says,
    and its string columns with `allowed` values are categorical features, stored as the value's position in `allowed`
    so gold, drift and range checks stay numeric; the model's pipeline one-hot encodes them."""
    columns = [c for c in contract.entity.columns if c.name != contract.key]
    numeric = [c for c in columns if c.is_numeric]
    categories = {c.name: c.allowed for c in columns if c.type == "string" and c.allowed}
    specs = {
        c.name: (
            c.min if c.min is not None else float("-inf"),
            c.max if c.max is not None else float("inf"),
            c.max_null_rate,
        )
        for c in numeric
    }
    specs.update(
        {
            name: (0, len(allowed) - 1, contract.entity.column(name).max_null_rate)
            for name, allowed in categories.items()
        }
    )
    specs = {c.name: specs[c.name] for c in columns if c.name in specs}
    described = repr(sorted(specs.items())) + (repr(sorted(categories.items())) if categories else "")
    digest = hashlib.sha1(described.encode()).hexdigest()[:8]

    def column(name: str) -> pl.Expr:
        if name in categories:
            values = categories[name]
            return pl.col(name).replace_strict(values, list(range(len(values))), default=None, return_dtype=pl.Float64)
        return pl.col(name).cast(pl.Float64)

    def engineer(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select("partition_date", contract.key, *[column(c) for c in specs])

    return FeatureSet(f"{contract.name}-identity-{digest}", specs, engineer, categories)
