"""Which feature function a contract uses: its own features module, or its typed numeric columns as they are."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from medallion.contract import Contract, ContractError


@dataclass(frozen=True)
class FeatureSet:
    version: str
    specs: dict[str, tuple[float, float, float]]
    engineer: Callable[[pl.DataFrame], pl.DataFrame]

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
    """Without a features module, the entity's numeric non-key columns are the features,
    bounded as the contract says."""
    columns = [c for c in contract.entity.columns if c.is_numeric and c.name != contract.key]
    specs = {
        c.name: (
            c.min if c.min is not None else float("-inf"),
            c.max if c.max is not None else float("inf"),
            c.max_null_rate,
        )
        for c in columns
    }
    digest = hashlib.sha1(repr(sorted(specs.items())).encode()).hexdigest()[:8]

    def engineer(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select("partition_date", contract.key, *[pl.col(c).cast(pl.Float64) for c in specs])

    return FeatureSet(f"{contract.name}-identity-{digest}", specs, engineer)
