"""The production profile on one machine: PostgreSQL, an MLflow server, the gRPC code server, the webserver and the
daemon, each its own process on 127.0.0.1, under $MEDALLION_HOME/prod.

`up` starts what is not running and writes `prod/env` (the variables every process of the profile reads, mode
0600: it holds passwords); `down` stops them; `run` submits a job through the webserver, as the UI does, and waits.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from medallion.settings import (
    DAGSTER_PG_URL_VAR,
    DAGSTER_UI_URL_VAR,
    LAKE_CATALOG_URL_VAR,
    MLFLOW_TRACKING_URI_VAR,
    MLFLOW_UI_URL_VAR,
    PG_URL_VAR,
    PROJECT_DIR,
    child_environment,
)
from medallion.tools.local_postgres import LocalPostgres
from medallion.tools.processes import answers, stop_process_group

DATABASES = ("dagster", "lake", "mlflow", "serving")
LOCATION = "medallion"
SERVICES = ("mlflow", "code_server", "webserver", "daemon")  # started in this order, stopped in reverse
PORTS_FILE = "ports.json"


class ProdStackError(RuntimeError):
    """A service of the profile did not start or answer; the message names it and its log."""


@dataclass(frozen=True)
class Ports:
    postgres: int = 5433
    mlflow: int = 5001
    code_server: int = 4266
    webserver: int = 3001


class ProdStack:
    def __init__(self, home: Path, ports: Ports = Ports()):
        self.home = home.resolve()
        self.ports = ports
        self.root = self.home / "prod"
        self.postgres = LocalPostgres(self.root / "postgres", ports.postgres)

    @classmethod
    def at(cls, home: Path) -> ProdStack:
        """The stack `up` started under `home`, with the ports it recorded."""
        recorded = home.resolve() / "prod" / PORTS_FILE
        if not recorded.exists():
            raise ProdStackError(f"no production profile was started under {home}: run `make prod-up` first")
        return cls(home, Ports(**json.loads(recorded.read_text())))

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def workspace(self) -> Path:
        return self.root / "workspace.yaml"

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webserver}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.mlflow}"

    def database_url(self, name: str, driver: str = "") -> str:
        url = self.postgres.url().rsplit("/", 1)[0] + f"/{name}"
        return url.replace("postgresql://", f"postgresql+{driver}://", 1) if driver else url

    def environment(self) -> dict[str, str]:
        """What every process of the profile reads (and what a user exports to run tools against it)."""
        return {
            "MEDALLION_ENV": "prod",
            "MEDALLION_HOME": str(self.home),
            "DAGSTER_HOME": str(self.dagster_home),
            DAGSTER_PG_URL_VAR: self.database_url("dagster", driver="psycopg2"),
            LAKE_CATALOG_URL_VAR: self.database_url("lake"),
            MLFLOW_TRACKING_URI_VAR: self.mlflow_url,
            MLFLOW_UI_URL_VAR: self.mlflow_url,
            DAGSTER_UI_URL_VAR: self.webserver_url,
            PG_URL_VAR: self.database_url("serving"),
            "MEDALLION_SERVING_TARGETS": "duckdb,postgres,delta",
            # Batched event writes: one PostgreSQL round trip per batch instead of per event (docs/deploy.md).
            "DAGSTER_EVENT_BATCH_SIZE": "1000",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }

    def up(self) -> dict[str, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / PORTS_FILE).write_text(json.dumps(asdict(self.ports)))
        self.postgres.start()
        for name in DATABASES:
            self.postgres.ensure_database(name)
        # Dagster's event log commits once per event batch; waiting for each WAL flush made it the larger part of a
        # long backfill. A crash may lose the last fraction of a second of events, never corrupt the database.
        self.postgres.execute("alter database dagster set synchronous_commit = off")
        self._write_instance()
        environment = self.environment()
        self.env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in environment.items()))
        self.env_file.chmod(0o600)
        for service in SERVICES:
            if not self._alive(service):
                self._start(service, environment)
        return environment

    def down(self) -> None:
        for service in reversed(SERVICES):
            self._stop(service)
        self.postgres.stop()

    def _write_instance(self) -> None:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_DIR / "deploy" / "dagster.prod.yaml", self.dagster_home / "dagster.yaml")
        self.workspace.write_text(
            "load_from:\n  - grpc_server:\n"
            f"      host: 127.0.0.1\n      port: {self.ports.code_server}\n      location_name: {LOCATION}\n"
        )

    def _command(self, service: str) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if service == "mlflow":
            artifacts = self.root / "mlflow-artifacts"
            return [
                str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.ports.mlflow),
                "--artifacts-destination", str(artifacts), "--serve-artifacts", "--workers", "1",
            ]  # fmt: skip
        if service == "code_server":
            # `dagster api grpc`, not `dagster code-server start`: the latter is a proxy that does not answer
            # GetCurrentRuns, which the run launcher's health check asks.
            return [
                str(bin_dir / "dagster"), "api", "grpc", "-h", "127.0.0.1", "-p", str(self.ports.code_server),
                "-m", "medallion.definitions", "--location-name", LOCATION,
            ]  # fmt: skip
        if service == "webserver":
            return [
                str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.ports.webserver),
                "-w", str(self.workspace),
            ]  # fmt: skip
        return [str(bin_dir / "dagster-daemon"), "run", "-w", str(self.workspace)]

    def _start(self, service: str, environment: dict[str, str]) -> None:
        env = child_environment(environment)
        if service == "mlflow":  # the backend URL holds the password: an environment variable, not an argument
            env["MLFLOW_BACKEND_STORE_URI"] = self.database_url("mlflow", driver="psycopg2")
        log = open(self.root / f"{service}.log", "ab")  # noqa: SIM115 - the child process keeps it
        process = subprocess.Popen(
            self._command(service), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.root
        )
        (self.root / f"{service}.pid").write_text(str(process.pid))
        self._wait_ready(service, process)

    def _wait_ready(self, service: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
        probes = {
            "mlflow": f"{self.mlflow_url}/health",
            "webserver": f"{self.webserver_url}/server_info",
        }
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise ProdStackError(f"{service} exited with {process.returncode}; see {self.root / service}.log")
            if service == "code_server" and self._grpc_ready():
                return
            if service in probes and answers(probes[service]):
                return
            if service == "daemon" and time.monotonic() > deadline - timeout + 3:
                return  # it has no port: alive after a few seconds is ready
            if time.monotonic() > deadline:
                raise ProdStackError(
                    f"{service} did not become ready in {timeout:.0f} s; see {self.root / service}.log"
                )
            time.sleep(0.5)

    def _grpc_ready(self) -> bool:
        from dagster._grpc.client import DagsterGrpcClient

        try:
            DagsterGrpcClient(port=self.ports.code_server, host="127.0.0.1").ping("ready")
            return True
        except Exception:
            return False

    def pid(self, service: str) -> int | None:
        pid_file = self.root / f"{service}.pid"
        return int(pid_file.read_text()) if pid_file.exists() else None

    def _alive(self, service: str) -> bool:
        pid = self.pid(service)
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _stop(self, service: str) -> None:
        pid = self.pid(service)
        if pid is not None:
            stop_process_group(pid)
            (self.root / f"{service}.pid").unlink(missing_ok=True)

    def restart(self, service: str) -> None:
        self._stop(service)
        self._start(service, self.environment())

    def run(self, job: str, first: str, last: str | None = None, timeout: float = 1800.0) -> dict:
        """Submits `job` for the days first..last through the webserver (queued, launched by the daemon through
        the code server, as from the UI) and waits for it; returns the run's id and status."""
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=self.ports.webserver)
        tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last or first}
        run_id = client.submit_job_execution(job, repository_location_name=LOCATION, tags=tags)
        deadline = time.monotonic() + timeout
        while True:
            status = client.get_run_status(run_id).value
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return {"run_id": run_id, "status": status, "job": job, "days": f"{first}...{last or first}"}
            if time.monotonic() > deadline:
                raise ProdStackError(f"{job} run {run_id} still {status} after {timeout:.0f} s")
            time.sleep(1.0)
