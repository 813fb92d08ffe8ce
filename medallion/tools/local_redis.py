"""A Redis for the production profile's Celery broker: Debian's `redis-server` on 127.0.0.1, with a password.

The password is generated once and kept in files only the owner reads (a 0600 config file the server reads, so
it never shows in the process list). Nothing is saved to disk (`--save ''`, no append-only file): a restart empties
the broker, which holds only tasks of runs Dagster tracks (a lost task's run fails its start timeout).
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

DEBIAN_BINARY = Path("/usr/bin/redis-server")
BROKER_DB, RESULTS_DB = 0, 1


class LocalRedisError(RuntimeError):
    """redis-server is missing or was never set up here; the message says what to do."""


@dataclass(frozen=True)
class LocalRedis:
    root: Path  # holds the password, the config file and the server's working directory
    port: int

    @property
    def password_file(self) -> Path:
        return self.root / "password"

    @property
    def config_file(self) -> Path:
        return self.root / "redis.conf"

    def url(self, db: int = BROKER_DB) -> str:
        if not self.password_file.exists():
            raise LocalRedisError(f"no Redis was set up under {self.root}: run `make prod-up` first")
        password = self.password_file.read_text(encoding="utf-8").strip()
        return f"redis://:{password}@127.0.0.1:{self.port}/{db}"

    def prepare(self) -> None:
        """The password (generated on first use) and the config file holding it, both readable by the owner only."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
            self.password_file.chmod(0o600)
        password = self.password_file.read_text(encoding="utf-8").strip()
        self.config_file.write_text(f"requirepass {password}\n", encoding="utf-8")
        self.config_file.chmod(0o600)

    def command(self) -> list[str]:
        return [
            binary(), str(self.config_file), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", str(self.root),
        ]  # fmt: skip

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(), socket_timeout=2, socket_connect_timeout=2).ping())
        except redis.RedisError:
            return False


def binary() -> str:
    found = shutil.which("redis-server") or (str(DEBIAN_BINARY) if DEBIAN_BINARY.exists() else None)
    if found is None:
        raise LocalRedisError(
            "`redis-server` is not on this machine; the production profile's Celery broker needs it: install "
            "Debian's package (apt-get install -y --no-install-recommends redis-server)"
        )
    return found
