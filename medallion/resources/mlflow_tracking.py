"""MLflow tracking and registry as a small Pythonic resource (dagster-mlflow is a legacy beta `@resource`).

Every call to the store goes through `store_errors`: the store's answer "no such model, version or alias" stays an
answer, anything else (refused connection, timeout, 5xx, a sqlite file that cannot be opened) raises
MlflowStoreError naming MEDALLION_MLFLOW_TRACKING_URI and the URL, so no caller mistakes an outage for "no champion".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import dagster as dg

from medallion.logic.ml import links
from medallion.settings import DEFAULT_DAGSTER_UI_URL, DEFAULT_MLFLOW_UI_URL, MLFLOW_TRACKING_URI_VAR

# MLflow error codes by which the store answers about the request itself: it was reached and read.
ANSWERS = frozenset({"RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS", "INVALID_PARAMETER_VALUE"})
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


class ModelNotFoundError(LookupError):
    """A model URI names a registered model, version or alias that does not exist."""


class MlflowStoreError(RuntimeError):
    """The tracking store could not be reached or opened, or failed; the message names the setting and the URL."""


def redacted(text: str) -> str:
    """`text` with the credentials of every URL in it (`user:password@`) replaced by `***@`."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", text)


def root_cause(error: BaseException) -> BaseException:
    """The innermost error behind `error`, e.g. the ConnectionRefusedError behind MLflow's retries."""
    for _ in range(20):
        reason = getattr(error, "reason", None)  # urllib3's MaxRetryError keeps its cause there
        following = reason if isinstance(reason, BaseException) else error.__cause__ or error.__context__
        if following is None:
            break
        error = following
    return error


class GuardedClient:
    """An MlflowClient whose every call runs inside `guard` (MlflowTracking.store_errors)."""

    def __init__(self, client: Any, guard: Callable[[], AbstractContextManager[None]]):
        self._client, self._guard = client, guard

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @wraps(attribute)
        def guarded(*args, **kwargs):
            with self._guard():
                return attribute(*args, **kwargs)

        return guarded


class MlflowTracking(dg.ConfigurableResource):
    """Where runs, artifacts and the model registry live; `mlflow` is imported only when a method needs it.

    Each dataset registers its own model: its assets address it through `for_model(name)`."""

    tracking_uri: str
    artifact_root: str | None = None  # a folder for a local store; None: the tracking server decides
    registered_model_name: str | None = None  # the model version_by_alias, set_alias and load_served address
    ui_url: str = DEFAULT_MLFLOW_UI_URL  # where a person opens the MLflow UI on this store (MEDALLION_MLFLOW_UI_URL)
    dagster_ui_url: str = DEFAULT_DAGSTER_UI_URL  # the Dagster UI MLflow runs link back to (MEDALLION_DAGSTER_UI_URL)

    def for_model(self, name: str) -> MlflowTracking:
        return MlflowTracking(
            tracking_uri=self.tracking_uri,
            artifact_root=self.artifact_root,
            registered_model_name=name,
            ui_url=self.ui_url,
            dagster_ui_url=self.dagster_ui_url,
        )

    @property
    def model_name(self) -> str:
        if self.registered_model_name is None:
            raise ModelNotFoundError("no registered model named: address one with for_model(name)")
        return self.registered_model_name

    @property
    def shown_uri(self) -> str:
        return redacted(self.tracking_uri)

    def store_error(self, error: BaseException) -> MlflowStoreError:
        cause = root_cause(error)
        reason = redacted(" ".join(f"{type(cause).__name__}: {cause}".split()))
        return MlflowStoreError(
            f"MLflow tracking store {self.shown_uri} ({MLFLOW_TRACKING_URI_VAR}) could not be used: "
            f"{reason[:500]}. Make it answer at that address or correct {MLFLOW_TRACKING_URI_VAR} (unset: the sqlite "
            "store under MEDALLION_HOME); nothing is assumed about the registry meanwhile"
        )

    @contextmanager
    def store_errors(self) -> Iterator[None]:
        """Failures of the store as MlflowStoreError; its answers about the request (ANSWERS) pass unchanged.
        Chained to nothing: MLflow's own messages carry the URL with its password."""
        import requests
        from mlflow.exceptions import MlflowException
        from sqlalchemy.exc import SQLAlchemyError

        try:
            yield
        except MlflowException as error:
            if error.error_code in ANSWERS:
                raise
            raise self.store_error(error) from None
        except (requests.RequestException, SQLAlchemyError) as error:
            raise self.store_error(error) from None

    def _ensure_local_store(self) -> None:
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)

    def _mlflow(self):
        import mlflow

        self._ensure_local_store()

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return mlflow

    def client(self) -> GuardedClient:
        """An MlflowClient on the store; each call raises MlflowStoreError when the store fails."""
        from mlflow import MlflowClient

        try:  # opening a sqlite store creates and migrates it: any error here is the store's
            self._ensure_local_store()
            client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        except Exception as error:
            raise self.store_error(error) from None
        return GuardedClient(client, self.store_errors)

    def ensure_reachable(self) -> None:
        """One cheap request, so that a step fails on an unusable store before its compute, not after."""
        self.client().search_experiments(max_results=1)

    def experiment_id(self, name: str, description: str | None = None) -> str:
        """The experiment `name`, created when missing; either way a classic model-training experiment (not GenAI),
        with `description` when given."""
        client = self.client()
        found = client.get_experiment_by_name(name)
        tags = {links.EXPERIMENT_KIND_TAG: links.EXPERIMENT_KIND}
        if description:
            tags[links.NOTE_TAG] = description
        if found is not None:
            for key, value in tags.items():
                if found.tags.get(key) != value:
                    client.set_experiment_tag(found.experiment_id, key, value)
            return found.experiment_id
        if self.artifact_root is None:
            return client.create_experiment(name, tags=tags)
        location = Path(self.artifact_root) / name
        location.mkdir(parents=True, exist_ok=True)
        return client.create_experiment(name, artifact_location=location.resolve().as_uri(), tags=tags)

    @contextmanager
    def start_run(
        self,
        experiment: str,
        run_name: str,
        tags: dict[str, str],
        description: str | None = None,
        experiment_description: str | None = None,
    ):
        """An MLflow run in `experiment`, tagged with where in Dagster it ran; `description` is the run's (markdown,
        shown on its page). The store failing inside the block (the fluent API logs to it) raises MlflowStoreError."""
        with self.store_errors():
            mlflow = self._mlflow()
            experiment_id = self.experiment_id(experiment, experiment_description)
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=run_name, tags=tags, description=description
            ) as run:
                yield run

    def run_url(self, run: Any) -> str:
        """The run's page in the MLflow UI (absolute, from `ui_url`)."""
        return links.mlflow_run_url(self.ui_url, run.info.experiment_id, run.info.run_id)

    def experiment_url(self, experiment_id: str) -> str:
        return links.mlflow_experiment_url(self.ui_url, experiment_id)

    def model_version_url(self, version: str, name: str | None = None) -> str:
        return links.mlflow_model_version_url(self.ui_url, name or self.model_name, str(version))

    def dagster_run_url(self, run_id: str) -> str:
        return links.dagster_run_url(self.dagster_ui_url, run_id)

    def link_metadata(self, version: Any, prefix: str = "mlflow") -> dict[str, dg.MetadataValue]:
        """Asset metadata linking a registered model version: its page, the run that logged it and its experiment."""
        run = self.client().get_run(version.run_id)
        return {
            f"{prefix}_model_version": dg.MetadataValue.url(self.model_version_url(version.version, version.name)),
            f"{prefix}_run": dg.MetadataValue.url(self.run_url(run)),
            f"{prefix}_experiment": dg.MetadataValue.url(self.experiment_url(run.info.experiment_id)),
        }

    def version_by_alias(self, alias: str):
        """The model version holding `alias`, or None when the registry answers that no version holds it or that no
        model of this name is registered. A store that cannot answer raises MlflowStoreError, never None."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            model = client.get_registered_model(self.model_name)
        except MlflowException as error:
            if error.error_code == NOT_FOUND:
                return None
            raise
        # Read from the model rather than asked by alias: MLflow reports a missing alias as INVALID_PARAMETER_VALUE,
        # the code of any malformed request too.
        version = model.aliases.get(alias)
        return None if version is None else client.get_model_version(self.model_name, version)

    def set_alias(self, alias: str, version: str) -> None:
        self.client().set_registered_model_alias(self.model_name, alias, version)

    def load_served(self, version: str):
        """The version's ThresholdedClassifier (medallion/logic/ml/served_model.py): `.pipeline`, `.feature_names`,
        `.threshold`, and `.predict` as any pyfunc client gets it."""
        return self._load_served(f"models:/{self.model_name}/{version}")

    def _load_served(self, uri: str):
        with self.store_errors():
            return self._mlflow().pyfunc.load_model(uri).unwrap_python_model()

    def resolve(self, model_uri: str):
        """`models:/NAME@ALIAS` or `models:/NAME/VERSION` → (model version, its ThresholdedClassifier)."""
        from mlflow.exceptions import MlflowException

        if not model_uri.startswith("models:/"):
            raise ModelNotFoundError(f"model URI {model_uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
        reference = model_uri.removeprefix("models:/")
        client = self.client()
        try:
            if "@" in reference:
                name, alias = reference.split("@", 1)
                version = client.get_model_version_by_alias(name, alias)
            else:
                name, _, number = reference.partition("/")
                version = client.get_model_version(name, number)
        except MlflowException as error:  # an answer (ANSWERS): store failures raise MlflowStoreError instead
            known = [m.name for m in client.search_registered_models()]
            raise ModelNotFoundError(
                f"model URI {model_uri!r} does not resolve in {self.shown_uri}: {error.message}. "
                f"Registered models: {known or 'none'}"
            ) from error
        return version, self._load_served(f"models:/{version.name}/{version.version}")

    def load_run_dict(self, run_id: str, artifact_path: str) -> dict:
        """A JSON artifact logged with `mlflow.log_dict` in run `run_id` (e.g. reference/feature_bins.json)."""
        with self.store_errors():
            return self._mlflow().artifacts.load_dict(f"runs:/{run_id}/{artifact_path}")

    def dagster_asset_url(self, asset_key: dg.AssetKey, partition: str | None = None) -> str:
        return links.dagster_asset_url(self.dagster_ui_url, asset_key.to_user_string(), partition)
