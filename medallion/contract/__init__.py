"""Dataset contracts: one declarative YAML per dataset drives bronze, silver, gold and their checks."""

from medallion.contract.model import ColumnSpec, Contract, ContractError, FeedSpec, load_contract, load_contracts

__all__ = ["ColumnSpec", "Contract", "ContractError", "FeedSpec", "load_contract", "load_contracts"]
