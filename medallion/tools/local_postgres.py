"""A PostgreSQL server for development and tests, started from the machine's binaries on 127.0.0.1.

`initdb` refuses to run as root, so under root the cluster belongs to the `postgres` system user and every server
command runs as that user. Connections over TCP need the password (scram-sha-256), so a wrong one is refused
as it would be in production; the socket in the cluster's folder is for the owner only.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
DATABASE = "medallion"
PASSWORD_FILE = "password"


class LocalPostgresError(RuntimeError):
    """The local server could not be set up, started or stopped; the message says which command failed."""


@dataclass(frozen=True)
class LocalPostgres:
    root: Path  # holds data/ (the cluster), the server log, the socket and the url file
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def password_file(self) -> Path:
        return self.root / PASSWORD_FILE

    def url(self) -> str:
        if not self.password_file.exists():
            raise LocalPostgresError(f"no server was set up under {self.root}: run `medallion pg-up` first")
        password = self.password_file.read_text(encoding="utf-8").strip()
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return _run_as_owner([_binary("pg_ctl"), "-D", str(self.data_dir), "status"], check=False).returncode == 0

    def start(self) -> str:
        """Initialises the cluster on first use, starts the server (if stopped) and returns its URL."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._initialise()
        if not self.is_running():
            options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            command = [_binary("pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(self.log_file), "-w"]
            try:
                _run_as_owner([*command, "start"])
            except LocalPostgresError as error:
                log = self.log_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                raise LocalPostgresError(f"{error}; {self.log_file} ends with: {' | '.join(log)}") from None
        self.ensure_database(DATABASE)
        return self.url()

    def create_database(self, name: str) -> str:
        """A new, empty database on this server; its URL."""
        _run_as_owner([_binary("createdb"), "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER, name])
        return self.url().rsplit("/", 1)[0] + f"/{name}"

    def ensure_database(self, name: str) -> str:
        """The database `name`, created if missing; its URL."""
        created = _run_as_owner(
            [_binary("createdb"), "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER, name], check=False
        )
        if created.returncode != 0 and "already exists" not in created.stderr:
            raise LocalPostgresError(f"createdb {name} failed: {created.stderr.strip()}")
        return self.url().rsplit("/", 1)[0] + f"/{name}"

    def execute(self, sql: str) -> str:
        """One SQL statement as the superuser over the folder's socket; its output."""
        command = [_binary("psql"), "-h", str(self.root), "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres"]
        return _run_as_owner([*command, "-v", "ON_ERROR_STOP=1", "-tAc", sql]).stdout

    def stop(self) -> None:
        if self.is_running():
            _run_as_owner([_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def _initialise(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _refuse_closed_ancestors(self.root)
        self.password_file.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
        self.password_file.chmod(0o600)
        _give_to_owner(self.root)
        initdb = [_binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, f"--pwfile={self.password_file}"]
        _run_as_owner([*initdb, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise LocalPostgresError(
            f"PostgreSQL's `{name}` is not on this machine: install the server binaries "
            "(Debian: apt-get install postgresql)"
        )
    return found


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _give_to_owner(root: Path) -> None:
    if _running_as_root():
        owner = pwd.getpwnam(SUPERUSER)
        for path in (root, *root.rglob("*")):
            os.chown(path, owner.pw_uid, owner.pw_gid)


def _refuse_closed_ancestors(root: Path) -> None:
    """Started by root, the server runs as `postgres`, which must enter every folder above its own: a folder made by
    mkdtemp (0700) above it made initdb fail with a bare "Permission denied" on its password file."""
    if not _running_as_root() or _run_as_owner(["test", "-x", str(root.resolve().parent)], check=False).returncode == 0:
        return
    for folder in reversed(root.resolve().parents):
        if _run_as_owner(["test", "-x", str(folder)], check=False).returncode != 0:
            raise LocalPostgresError(
                f"PostgreSQL runs as the `{SUPERUSER}` user when started by root, and cannot enter {folder} (mode "
                f"{folder.stat().st_mode & 0o777:o}) to reach {root}: put it under a folder others may enter, or "
                f"`chmod o+x {folder}`"
            )


def _run_as_owner(command: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if _running_as_root():
        command = ["runuser", "-u", SUPERUSER, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, cwd="/")
    if check and result.returncode != 0:
        raise LocalPostgresError(f"`{' '.join(command)}` failed ({result.returncode}): {result.stderr.strip()}")
    return result
