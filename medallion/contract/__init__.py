"""Dataset contracts: one declarative YAML per dataset drives bronze, silver, gold and their checks."""

from medallion.contract.model import (
    ColumnSpec,
    Contract,
    ContractError,
    FeedSpec,
    check_no_shared_tables,
    load_contract,
)

__all__ = ["ColumnSpec", "Contract", "ContractError", "FeedSpec", "check_no_shared_tables", "load_contract"]
