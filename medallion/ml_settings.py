"""A dataset's ML declaration (`ml:` in its defs.yaml): where its ML assets and served tables live, its registered
model, the candidates it tries and the AUC floor its models must reach. Checked when the definitions load."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from medallion.contract.model import ContractError
from medallion.logic.ml.training import CANDIDATES
from medallion.names import ETL_LAYERS, MlNames

MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,200}")
# Lower case: PostgreSQL folds unquoted names, so the served schema is the same name in every target.
SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEFAULT_AUC_FLOOR = 0.70


@dataclass(frozen=True)
class MlSettings:
    names: MlNames
    candidates: tuple[str, ...] = CANDIDATES
    # The holdout AUC a new version must reach (model_quality_floor) and the live AUC below which a retrain is asked.
    auc_floor: float = DEFAULT_AUC_FLOOR


def resolve_ml(dataset: str, declared: bool | Mapping[str, Any] | None, where: str) -> MlSettings | None:
    """`ml: false` → None; `ml: true` → the defaults (schemas ml_<dataset> and serving_<dataset>, model <dataset>);
    a mapping → those settings, each checked: an error names the file, the dataset, the setting and what is allowed."""
    if not declared:
        return None
    given = {
        key: value for key, value in (declared if isinstance(declared, Mapping) else {}).items() if value is not None
    }

    def refuse(setting: str, value: Any, allowed: str) -> ContractError:
        return ContractError(f"{where}: dataset {dataset}: `ml.{setting}: {value!r}` is not allowed; {allowed}")

    schemas = {"schema": f"ml_{dataset.lower()}", "serving_schema": f"serving_{dataset.lower()}"}
    for setting in schemas:
        value = given.get(setting, schemas[setting])
        if not isinstance(value, str) or not SCHEMA.fullmatch(value) or value in ETL_LAYERS:
            raise refuse(
                setting, value, f"use a lower-case SQL name (a-z, 0-9, '_') other than {', '.join(ETL_LAYERS)}"
            )
        schemas[setting] = value
    if schemas["schema"] == schemas["serving_schema"]:
        raise refuse(
            "serving_schema",
            schemas["serving_schema"],
            "the served tables need a schema of their own, not the ML assets' `ml.schema`",
        )
    model = given.get("model", dataset)
    if not isinstance(model, str) or not MODEL_NAME.fullmatch(model):
        raise refuse("model", model, "a registered model name has letters, digits, '_', '.' or '-'")
    candidates = given.get("candidates", CANDIDATES)
    if not candidates or isinstance(candidates, str) or any(name not in CANDIDATES for name in candidates):
        raise refuse("candidates", candidates, f"use one or more of {', '.join(CANDIDATES)}")
    floor = given.get("auc_floor", DEFAULT_AUC_FLOOR)
    if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0.5 <= floor <= 1:
        raise refuse("auc_floor", floor, "use a ROC AUC between 0.5 (chance) and 1")
    names = MlNames(dataset, model, schemas["schema"], schemas["serving_schema"])
    return MlSettings(names, tuple(dict.fromkeys(candidates)), float(floor))


def check_no_shared_ml(declared: Iterable[tuple[str, MlSettings]]) -> None:
    """Two datasets may not share an ML schema, a serving schema or a registered model; the message names both."""
    owners: dict[tuple[str, str], list[str]] = {}
    for where, ml in declared:
        names = ml.names
        for setting, value in (
            ("schema", names.schema),
            ("serving_schema", names.serving_schema),
            ("model", names.model_name),
        ):
            kind = "model" if setting == "model" else "schema"  # a schema is one namespace, ML or served
            owners.setdefault((kind, value), []).append(f"{names.dataset} ({where}, `ml.{setting}`)")
    clashes = {claim: who for claim, who in sorted(owners.items()) if len(who) > 1}
    if clashes:
        described = "; ".join(f"{kind} {value!r} by {' and '.join(who)}" for (kind, value), who in clashes.items())
        raise ContractError(
            f"two datasets declare the same ML name(s): {described}; give each dataset its own `ml.schema`, "
            "`ml.serving_schema` and `ml.model`"
        )
