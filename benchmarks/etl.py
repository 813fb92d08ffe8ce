"""Bronze → silver → gold on a generated landing day, against a pandas baseline doing the same validation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from medallion.components import project_datasets

DAY = date(2025, 6, 1)


def medallion_path(files: list[Path]) -> dict:
    from medallion.logic.etl.cleaning import validate_feed
    from medallion.logic.etl.features import engineer_features
    from medallion.logic.etl.ingestion import read_landing_day

    contract = project_datasets()["credit_default"].loaded_contract
    bronze, _ = read_landing_day(files, contract.entity.column_names, DAY, datetime.now(UTC))
    silver = validate_feed(bronze, contract.entity)
    features = engineer_features(silver.valid)
    return {"valid": silver.valid.height, "quarantined": silver.quarantine.height, "features": features.height}


def pandas_baseline(files: list[Path]) -> dict:
    """What pipelines are commonly written as: read as text, coerce per column, mask the invalid rows,
    drop duplicates."""
    import pandas as pd

    contract = project_datasets()["credit_default"].loaded_contract
    frame = pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False, on_bad_lines="skip") for f in files], ignore_index=True
    )
    invalid = pd.Series(False, index=frame.index)
    typed = {}
    for column in contract.entity.columns:
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
    silver = pd.DataFrame(typed)[~invalid].drop_duplicates(subset=[contract.key], keep="last")
    silver["utilisation_latest"] = silver["BILL_AMT1"] / silver["LIMIT_BAL"]
    silver["months_delayed"] = (silver[["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]] > 0).sum(axis=1)
    return {"valid": int(len(silver)), "quarantined": int(invalid.sum())}
