"""Where alerts go: an append-only log under MEDALLION_HOME and, when configured, a webhook."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from medallion.logic.monitoring.alerts import Alert, append_alert, post_webhook


class Alerting(dg.ConfigurableResource):
    """`webhook_url` comes from MEDALLION_ALERT_WEBHOOK_URL through dg.EnvVar, so it never shows in the UI."""

    alerts_dir: str
    webhook_url: str | None = None

    @property
    def log_path(self) -> Path:
        return Path(self.alerts_dir) / "alerts.jsonl"

    def deliver(self, alert: Alert, log) -> None:
        """Append the alert to the log and POST it to the webhook; a delivery problem is logged, never raised."""
        append_alert(self.log_path, alert)
        if not self.webhook_url:
            return
        try:
            status = post_webhook(self.webhook_url, alert)
            log.info(f"alert posted to the webhook: HTTP {status}")
        except OSError as error:
            # The URL may carry a token: name the failure, not the address.
            log.warning(f"alert webhook (MEDALLION_ALERT_WEBHOOK_URL) unreachable: {error}")
