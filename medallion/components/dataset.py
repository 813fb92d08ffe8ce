"""A dataset as a Dagster component: its contract gives it bronze, silver and gold, their checks and, with `ml`,
the whole ML lifecycle, kept apart from every other dataset's. `dg scaffold defs medallion.components.Dataset <name>`
writes a working skeleton."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from medallion.assets import build_etl_assets, build_ml_assets
from medallion.checks.freshness import build_freshness_checks
from medallion.checks.ml import build_ml_checks
from medallion.checks.monitoring import build_monitoring_checks
from medallion.checks.promotions import build_promotion_checks
from medallion.checks.quality import build_quality_checks
from medallion.contract import Contract, ContractError, check_no_shared_tables, load_contract
from medallion.logic.etl.feature_sets import feature_set_for
from medallion.logic.ml.training import CANDIDATES
from medallion.ml_settings import DEFAULT_AUC_FLOOR, MlSettings, check_no_shared_ml, resolve_ml
from medallion.names import BRONZE, ETL_JOB, FRESHNESS_CHECK, GOLD, SILVER, STAGE_TAG, dataset_named, table_key
from medallion.policies import apply_layer_policies
from medallion.settings import current_settings

CONTRACT_FILE = "contract.yaml"
SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


class DatasetScaffolder(dg.Scaffolder):
    """Writes defs.yaml and a small contract named after the folder, ready to land files for and run."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        name = Path(request.target_path).name
        if not SNAKE_CASE.fullmatch(name):
            raise ValueError(f"dataset name {name!r}: use lower-case letters, digits and '_' (it names tables)")
        dg.scaffold_component(request, {"contract": CONTRACT_FILE, "ml": False})
        defs_yaml = Path(request.target_path) / "defs.yaml"
        defs_yaml.write_text(defs_yaml.read_text(encoding="utf-8") + ml_skeleton(name), encoding="utf-8")
        (Path(request.target_path) / CONTRACT_FILE).write_text(contract_skeleton(name), encoding="utf-8")


def ml_skeleton(name: str) -> str:
    return f"""\
  # `ml: true` gives this dataset its own ML lifecycle with the defaults below; a mapping sets any of them:
  # ml:
  #   schema: ml_{name}  # key prefix and warehouse schema of its training set, model, predictions, ...
  #   serving_schema: serving_{name}  # its served predictions and daily summary
  #   model: {name}  # its registered model in MLflow
  #   candidates: [{", ".join(CANDIDATES)}]
  #   auc_floor: {DEFAULT_AUC_FLOOR}  # holdout AUC a version must reach; a live AUC below it asks for a retrain
  # Its jobs, schedules and retrain sensor are training_job__{name}, ... (plain names only for `schema: ml`), as its
  # ETL job is etl_job__{name} (daily: etl_daily_schedule__{name}) with or without `ml`.
"""


def contract_skeleton(name: str) -> str:
    return f"""\
# The {name} dataset: files land in $MEDALLION_HOME/landing/{name}/<YYYY-MM-DD>/*.csv and
# $MEDALLION_HOME/landing/{name}_outcomes/<YYYY-MM-DD>/*.csv. Edit the columns to match your files;
# the README's "Adding a dataset" section lists every setting.
name: {name}
description: Describe the dataset here.
max_quarantine_rate: 0.05

entity:
  feed: {name}
  key: id
  columns:
    - {{name: id, type: int64, min: 1, description: "the entity's key"}}
    - {{name: amount, type: float64, min: 0, description: "a numeric feature"}}
    - {{name: category, type: string, nullable: true, max_null_rate: 0.5, description: "an optional label"}}

outcome:
  feed: {name}_outcomes
  key: id
  columns:
    - {{name: id, type: int64, min: 1}}
    - {{name: outcome, type: int8, allowed: [0, 1], description: "what the model learns to predict"}}
    - {{name: observed_on, type: date, description: "the day the outcome became known"}}
label: outcome
label_positive: 1   # the outcome value that is the positive class (any type the column holds, e.g. "bad")
label_time: observed_on
label_delay_days: 0   # days from an application to its outcome landing: no outcome file is expected sooner
owners: [team:data]   # e-mails or team:<name>, shown as the tables' owners in the catalog
# features: my_package.my_features   (optional: engineer_features, FEATURE_SET_VERSION, FEATURE_SPECS)
"""


class MlDeclaration(dg.Model):
    """`ml:` as a mapping: every setting is optional; `ml: true` takes all the defaults."""

    schema_: str | None = Field(
        default=None,
        alias="schema",
        description="Key prefix and warehouse schema of the ML assets (default ml_<dataset>).",
    )
    serving_schema: str | None = Field(
        default=None, description="Schema of the served predictions and daily summary (default serving_<dataset>)."
    )
    model: str | None = Field(default=None, description="The registered model name in MLflow (default: the dataset).")
    candidates: list[str] | None = Field(
        default=None, description=f"Model families training tries (default all: {', '.join(CANDIDATES)})."
    )
    auc_floor: float | None = Field(
        default=None,
        description="Holdout ROC AUC a new version must reach, and live AUC below which a retrain is asked "
        f"(default {DEFAULT_AUC_FLOOR}).",
    )


@dg.scaffold_with(DatasetScaffolder)
class Dataset(dg.Component, dg.Model, dg.Resolvable):
    """A dataset driven by its contract: bronze → silver (+ quarantine) → gold features and labels with their
    quality and freshness checks; with `ml` also its own training set, model, evaluation, predictions, serving loads,
    monitoring and retrain decision with their checks, jobs, schedules, retrain sensor and registered model."""

    contract: str = Field(default=CONTRACT_FILE, description="The contract file, relative to this defs.yaml.")
    ml: bool | MlDeclaration = Field(
        default=False,
        description="The ML lifecycle for this dataset: true for the defaults, or a mapping of schema, "
        "serving_schema, model, candidates and auc_floor.",
    )
    _contract: Contract | None = PrivateAttr(default=None)
    _ml: MlSettings | None = PrivateAttr(default=None)
    _defs_file: str = PrivateAttr(default="")
    _etl_job_definition: Any = PrivateAttr(default=None)

    @classmethod
    def load(cls, attributes, context: dg.ComponentLoadContext) -> Dataset:
        dataset = super().load(attributes, context)
        dataset._contract = load_contract(context.path / dataset.contract)
        dataset._defs_file = str(context.path / "defs.yaml")
        declared = dataset.ml.model_dump(by_alias=True) if isinstance(dataset.ml, MlDeclaration) else dataset.ml
        dataset._ml = resolve_ml(dataset._contract.name, declared, dataset._defs_file)
        return dataset

    @property
    def loaded_contract(self) -> Contract:
        if self._contract is None:
            raise RuntimeError("Dataset.loaded_contract: the component was not loaded from its defs.yaml")
        return self._contract

    @property
    def ml_settings(self) -> MlSettings | None:
        """The resolved `ml` declaration; None when the dataset has no ML lifecycle."""
        return self._ml

    @property
    def defs_file(self) -> str:
        return self._defs_file

    @property
    def feeds(self) -> list[str]:
        return [feed.name for feed in self.loaded_contract.feeds]

    @property
    def dataset_name(self) -> str:
        """The contract's name, which its job, schedule and table names carry."""
        return self.loaded_contract.name

    def named(self, name: str) -> str:
        """Its own job or schedule called `name`: plain for the dataset under `ml.schema: ml`, else `name__<dataset>`
        (the rule of its ML jobs, training_job__<dataset>, which a dataset without `ml` follows too)."""
        ml = self.ml_settings
        return ml.names.named(name) if ml is not None else dataset_named(name, self.dataset_name, plain=False)

    @property
    def etl_job(self) -> str:
        return self.named(ETL_JOB)

    @property
    def etl_keys(self) -> list[dg.AssetKey]:
        """Its bronze, silver (with its quarantine) and gold assets: what its ETL job materializes."""
        contract = self.loaded_contract
        return [
            *[table_key(BRONZE, feed) for feed in self.feeds],
            *[table_key(SILVER, feed) for feed in self.feeds],
            table_key(SILVER, contract.quarantine_table),
            *self.gold_keys,
        ]

    @property
    def gold_keys(self) -> list[dg.AssetKey]:
        contract = self.loaded_contract
        return [table_key(GOLD, contract.features_table), table_key(GOLD, contract.labels_table)]

    @property
    def freshness_check_keys(self) -> list[dg.AssetCheckKey]:
        return [dg.AssetCheckKey(key, FRESHNESS_CHECK) for key in self.gold_keys]

    def etl_job_definition(self) -> dg.JobDefinition:
        """Its ETL job (`etl_job`): its bronze, silver and gold assets with their checks and nothing of any other
        dataset. Not the freshness checks: they judge the latest partition against the clock, not the run's days, and
        freshness_check_job runs them. Built once per loaded component, so the jobs and the landing sensor that
        targets the job hold the same object (Dagster takes a job twice only as one object)."""
        if self._etl_job_definition is None:
            self._etl_job_definition = dg.define_asset_job(
                self.etl_job,
                selection=dg.AssetSelection.assets(*self.etl_keys)
                - dg.AssetSelection.checks(*self.freshness_check_keys),
                description="Landing → bronze → silver (+ quarantine) → gold features and labels, with their quality "
                f"checks ({self.dataset_name}).",
                tags={STAGE_TAG: "etl"},
            )
        return self._etl_job_definition

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        contract, settings, ml = self.loaded_contract, current_settings(), self.ml_settings
        start = settings.start_date
        feature_set = feature_set_for(contract)
        assets = build_etl_assets(contract, feature_set, start)
        checks = [*build_quality_checks(contract, feature_set, start), *build_freshness_checks(self.gold_keys)]
        if ml is None:
            return apply_layer_policies(dg.Definitions(assets=assets, asset_checks=checks), owners=contract.owners)
        assets += build_ml_assets(contract, feature_set, start, settings.serving_targets, ml)
        checks += [
            *build_ml_checks(contract, ml, start),
            *build_monitoring_checks(ml.names, start),
            *build_promotion_checks(contract, ml, start),
        ]
        return apply_layer_policies(
            dg.Definitions(assets=assets, asset_checks=checks), ml.names.layers, owners=contract.owners
        )


def datasets_in(context: dg.ComponentLoadContext) -> list[Dataset]:
    """Every Dataset of the defs tree, for the definitions that span datasets (jobs, sensors)."""
    datasets = context.component_tree.get_all_components(of_type=Dataset)
    check_no_shared_tables([dataset.loaded_contract for dataset in datasets])
    check_no_shared_ml((dataset.defs_file, dataset.ml_settings) for dataset in datasets if dataset.ml_settings)
    check_no_shared_jobs(datasets)
    return datasets


def check_no_shared_jobs(datasets: list[Dataset]) -> None:
    """Two datasets may not name the same ETL job (two contracts with one `name`); the message names both files."""
    owners: dict[str, list[str]] = {}
    for dataset in datasets:
        owners.setdefault(dataset.etl_job, []).append(f"{dataset.dataset_name} ({dataset.defs_file})")
    clashes = {job: who for job, who in sorted(owners.items()) if len(who) > 1}
    if clashes:
        described = "; ".join(f"{job} by {' and '.join(who)}" for job, who in clashes.items())
        raise ContractError(f"two datasets would have the same ETL job: {described}; give each contract its own `name`")


def project_datasets(project_root: Path | None = None) -> dict[str, Dataset]:
    """The project's datasets by contract name, loaded from its defs folder as the code location loads them
    (default: this package's project)."""
    tree = dg.ComponentTree.for_project(project_root or Path(__file__).resolve())
    datasets = tree.get_all_components(of_type=Dataset)
    return {dataset.loaded_contract.name: dataset for dataset in datasets}
