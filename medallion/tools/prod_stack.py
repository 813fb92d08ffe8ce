"""The production profile on one machine: PostgreSQL, Redis (the Celery broker), an MLflow server, the gRPC code
server, the webserver, N Celery workers and the daemon, each its own process group on 127.0.0.1 (a worker as if on
its own host), under $MEDALLION_HOME/prod.

`up` starts what is not running and writes `prod/env` (the variables every process of the profile reads, mode
0600: it holds passwords); `down` stops them; `run` submits a job's days as a backfill through the webserver, as the
UI does, and waits for every run of it (medallion/tools/prod_backfill.py).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from medallion.settings import (
    CELERY_BROKER_URL_VAR,
    DAGSTER_PG_URL_VAR,
    DAGSTER_UI_URL_VAR,
    DEFAULT_PROD_RUN_DAYS,
    LAKE_CATALOG_URL_VAR,
    MLFLOW_TRACKING_URI_VAR,
    MLFLOW_UI_URL_VAR,
    ONE_RUN,
    PG_URL_VAR,
    PROJECT_DIR,
    RUN_DAYS_VAR,
    Settings,
    child_environment,
)
from medallion.tools.local_postgres import LocalPostgres, free_port
from medallion.tools.local_redis import LocalRedis
from medallion.tools.processes import answers, stop_process_group

if TYPE_CHECKING:
    from medallion.tools.prod_backfill import BackfillOutcome

DATABASES = ("dagster", "lake", "mlflow", "serving")
LOCATION = "medallion"
# Started in this order, stopped in reverse; "workers" stands for worker1..workerN.
SERVICES = ("redis", "mlflow", "code_server", "webserver", "workers", "daemon")
PORTS_FILE = "ports.json"
LAYOUT_FILE = "layout.json"
DEFAULT_WORKERS = 2
# dagster-celery's stock worker app, with medallion's include (tags each run with the worker that takes it).
WORKER_APP, WORKER_INCLUDE, WORKER_QUEUE = "dagster_celery.app", "medallion.deploy.celery_worker", "dagster"


class ProdStackError(RuntimeError):
    """A service of the profile did not start or answer; the message names it and its log."""


@dataclass(frozen=True)
class Ports:
    postgres: int = 5433
    mlflow: int = 5001
    code_server: int = 4266
    webserver: int = 3001
    redis: int = 6380


class ProdStack:
    def __init__(
        self,
        home: Path,
        ports: Ports = Ports(),
        workers: int = DEFAULT_WORKERS,
        days_per_run: int | None = DEFAULT_PROD_RUN_DAYS,
    ):
        if workers < 1:
            raise ProdStackError(f"the production profile needs at least one worker, got {workers}")
        self.home = home.resolve()
        self.ports = ports
        self.workers = workers
        self.days_per_run = days_per_run  # None: a backfill is one run
        self.root = self.home / "prod"
        self.postgres = LocalPostgres(self.root / "postgres", ports.postgres)
        self.redis = LocalRedis(self.root / "redis", ports.redis)

    @classmethod
    def at(cls, home: Path) -> ProdStack:
        """The stack `up` started under `home`, with the ports, workers and run length it recorded."""
        root = home.resolve() / "prod"
        if not (root / PORTS_FILE).exists():
            raise ProdStackError(f"no production profile was started under {home}: run `make prod-up` first")
        layout = json.loads((root / LAYOUT_FILE).read_text()) if (root / LAYOUT_FILE).exists() else {}
        return cls(home, Ports(**json.loads((root / PORTS_FILE).read_text())), **layout)

    @property
    def services(self) -> tuple[str, ...]:
        workers = tuple(f"worker{i}" for i in range(1, self.workers + 1))
        return tuple(name for service in SERVICES for name in (workers if service == "workers" else (service,)))

    def worker_name(self, service: str) -> str:
        """The Celery node name of a worker service (`-n worker1@%h`), as runs record it in `medallion/worker`."""
        from celery.utils.nodenames import host_format

        return host_format(f"{service}@%h")

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
            # Read by the run launcher (deploy/dagster.prod.yaml) and by the workers (Celery's own variable).
            CELERY_BROKER_URL_VAR: self.redis.url(),
            RUN_DAYS_VAR: ONE_RUN if self.days_per_run is None else str(self.days_per_run),
            "MEDALLION_SERVING_TARGETS": "duckdb,postgres,delta",
            # Batched event writes: one PostgreSQL round trip per batch instead of per event (docs/deploy.md).
            "DAGSTER_EVENT_BATCH_SIZE": "1000",
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }

    def up(self) -> dict[str, str]:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / PORTS_FILE).write_text(json.dumps(asdict(self.ports)))
        (self.root / LAYOUT_FILE).write_text(json.dumps({"workers": self.workers, "days_per_run": self.days_per_run}))
        self.redis.prepare()
        self.postgres.start()
        for name in DATABASES:
            self.postgres.ensure_database(name)
        # Dagster's event log commits once per event batch; waiting for each WAL flush made it the larger part of a
        # long backfill. A crash may lose the last fraction of a second of events, never corrupt the database.
        self.postgres.execute("alter database dagster set synchronous_commit = off")
        self._write_instance()
        environment = self.environment()
        self._create_lake(environment)
        self.env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in environment.items()))
        self.env_file.chmod(0o600)
        for pid_file in self.root.glob("worker*.pid"):  # workers beyond a smaller --workers than last time
            if pid_file.stem not in self.services:
                self.stop(pid_file.stem)
        for service in self.services:
            if not self._alive(service):
                self._start(service, environment)
        return environment

    def down(self) -> None:
        for service in reversed(self.services):
            self.stop(service)
        self.postgres.stop()

    def _create_lake(self, environment: dict[str, str]) -> None:
        """DuckLake creates its catalog's tables on the first attach; two workers attaching a new catalog at once
        collide (duplicate key in pg_type on `CREATE TABLE ducklake_metadata`), so the stack attaches it first."""
        from medallion.resources.ducklake import connect_lake

        connect_lake(environment[LAKE_CATALOG_URL_VAR], Settings.from_env(environment).lake_data_root).close()

    def _write_instance(self) -> None:
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        # The run queue launches no more runs than the workers take at once: a run waiting in the broker would be
        # STARTING, and run monitoring fails a run STARTING longer than its start timeout.
        instance = (PROJECT_DIR / "deploy" / "dagster.prod.yaml").read_text()
        limit = re.subn(r"(?m)^(\s*max_concurrent_runs:) \d+", rf"\g<1> {self.workers}", instance)
        if limit[1] != 1:
            raise ProdStackError("deploy/dagster.prod.yaml must set concurrency: runs: max_concurrent_runs once")
        (self.dagster_home / "dagster.yaml").write_text(limit[0])
        self.workspace.write_text(
            "load_from:\n  - grpc_server:\n"
            f"      host: 127.0.0.1\n      port: {self.ports.code_server}\n      location_name: {LOCATION}\n"
        )

    def _command(self, service: str) -> list[str]:
        bin_dir = Path(sys.executable).parent
        if service == "redis":
            return self.redis.command()
        if service.startswith("worker"):
            # A whole run per task, one at a time; a worker takes a task only when it is free (so a killed worker
            # holds no one else's run), and each run gets a new process.
            return [
                str(bin_dir / "celery"), "-A", WORKER_APP, "worker", "-n", f"{service}@%h", "-Q", WORKER_QUEUE,
                "-I", WORKER_INCLUDE, "--concurrency", "1", "--prefetch-multiplier", "1", "--disable-prefetch",
                "--max-tasks-per-child", "1", "--loglevel", "INFO",
            ]  # fmt: skip
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
            if service == "redis" and self.redis.answers():
                return
            if service.startswith("worker") and self._worker_answers(service):
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

    def _worker_answers(self, service: str) -> bool:
        from celery import Celery

        app = Celery(broker=self.redis.url())
        try:
            return bool(app.control.ping(destination=[self.worker_name(service)], timeout=1.0))
        except Exception:
            return False
        finally:
            app.close()

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

    def stop(self, service: str) -> None:
        pid = self.pid(service)
        if pid is not None:
            stop_process_group(pid)
            (self.root / f"{service}.pid").unlink(missing_ok=True)

    def restart(self, service: str) -> None:
        self.stop(service)
        self._start(service, self.environment())

    def run(self, job: str, first: str, last: str | None = None, timeout: float = 1800.0) -> BackfillOutcome:
        """Submits `job`'s assets for the days first..last as one asset backfill through the webserver; the daemon
        splits it into runs the workers take. Waits for every run of it."""
        from medallion.tools.prod_backfill import Webserver

        webserver = Webserver(self.webserver_url, LOCATION)
        backfill_id = webserver.submit(job, date.fromisoformat(first), date.fromisoformat(last or first))
        return webserver.wait(backfill_id, timeout)


@contextmanager
def running(home: Path, workers: int = DEFAULT_WORKERS, days_per_run: int | None = DEFAULT_PROD_RUN_DAYS):
    """The profile under `home` on free ports with `workers` Celery workers, stopped on exit (for tests and benchmarks
    comparing worker counts: `with running(home, workers=1) as stack: stack.run("etl_job", first, last)`)."""
    stack = ProdStack(home, Ports(*(free_port() for _ in fields(Ports))), workers=workers, days_per_run=days_per_run)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
