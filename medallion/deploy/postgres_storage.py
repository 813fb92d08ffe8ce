"""The production instance's PostgreSQL storage, with the event log holding one connection per process.

Dagster's PostgreSQL event log opens a new connection for every write (a new server process each, `NullPool`), so
that no instance holds connections open; the webserver alone keeps one (`optimize_for_webserver`). A single-run
backfill of a year writes ~12,000 events, and that churn was most of the run on the production profile. Here
every process that writes events keeps one connection, as the webserver does: a run, the daemon, the code server.
"""

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

# A kept connection is replaced after an hour, so a restarted or failed-over server is never held on to for long.
POOL_RECYCLE_SECONDS = 3600


class PooledPostgresStorage(DagsterPostgresStorage):
    """`storage: postgres` with a kept event-log connection (deploy/dagster.prod.yaml: `storage: custom:`)."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # No statement timeout (0): a run's writes are not the webserver's reads.
        self._event_log_storage.optimize_for_webserver(
            statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=2
        )

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> "PooledPostgresStorage":
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
