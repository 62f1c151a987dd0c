"""`DiscordNotifier`: post an embed to a Discord webhook (red failure, green recovery).

The webhook URL embeds its own secret token: it comes from VETORIAL_DISCORD_WEBHOOK_URL
through EnvVar, and is never logged or included in an error (the seed's alert channel).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import requests
from dagster import ConfigurableResource
from pydantic import Field

from resources.redaction import redact, register_secret

log = logging.getLogger("vetorial.discord")

RED = 0xE74C3C
GREEN = 0x2ECC71
# Discord's documented embed limits.
_TITLE_MAX, _DESCRIPTION_MAX, _FIELD_MAX = 256, 4096, 1024


@dataclass(frozen=True)
class Alert:
    title: str
    description: str
    color: int
    fields: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict:
        return {"embeds": [{
            "title": self.title[:_TITLE_MAX],
            "description": self.description[:_DESCRIPTION_MAX],
            "color": self.color,
            "fields": [{"name": k, "value": (v or "-")[:_FIELD_MAX], "inline": True} for k, v in self.fields.items()],
        }]}


class DiscordNotifier(ConfigurableResource):
    """Unset webhook: alerts are logged and skipped (local runs, CI)."""

    webhook_url: str | None = Field(default=None, repr=False, description="Discord webhook URL (a secret).")
    timeout_seconds: float = 10.0
    attempts: int = 3

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    def send(self, alert: Alert) -> bool:
        if not self.webhook_url:
            log.info("Discord alert skipped (VETORIAL_DISCORD_WEBHOOK_URL unset): %s", alert.title)
            return False
        register_secret(self.webhook_url)
        payload = alert.payload()
        for attempt in range(1, self.attempts + 1):
            try:
                response = requests.post(self.webhook_url, json=payload, timeout=self.timeout_seconds)
                if response.status_code == 429 and attempt < self.attempts:
                    # Discord rate limit: it says how long to wait.
                    time.sleep(min(float(response.json().get("retry_after", 1)), 30))
                    continue
                response.raise_for_status()
                return True
            except requests.RequestException as exc:
                if attempt == self.attempts:
                    # The URL carries the webhook token: never let it into the message.
                    log.error("Discord alert failed: %s", redact(exc, (self.webhook_url,)))
                    return False
                time.sleep(attempt)
        return False
