"""`DiscordNotifier`: post an embed to a Discord webhook (red failure, green recovery).

The webhook URL embeds its own secret token: it comes from VETORIAL_DISCORD_WEBHOOK_URL
through EnvVar, and is never logged or included in an error (the seed's alert channel).
requests' errors and urllib3's debug lines carry the URL's path, which holds the id and
token: the path and both segments are registered as secrets before the first request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import requests
from dagster import ConfigurableResource
from pydantic import Field

from resources.redaction import install_log_redaction, redact, register_url_secret

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


def _retry_after(response: requests.Response) -> float:
    """Seconds a 429 asks to wait (its JSON `retry_after`), 1 when unreadable, at most 30."""
    try:
        return max(0.0, min(float(response.json().get("retry_after", 1)), 30.0))
    except (ValueError, TypeError, AttributeError):
        return 1.0


class DiscordNotifier(ConfigurableResource):
    """Unset webhook: alerts are logged and skipped (local runs, CI)."""

    webhook_url: str | None = Field(default=None, repr=False, description="Discord webhook URL (a secret).")
    timeout_seconds: float = 10.0
    attempts: int = 3

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    def check(self) -> str:
        """Ask Discord about the webhook without posting (GET on a webhook URL describes it).
        Raises with a redacted message when it does not answer 200; never returns the body,
        which repeats the token."""
        register_url_secret(self.webhook_url, secret_segments=2)
        install_log_redaction("vetorial.discord", "urllib3.connectionpool")
        try:
            response = requests.get(self.webhook_url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            raise RuntimeError(f"Discord webhook unreachable: {redact(exc)}") from None
        if response.status_code != 200:
            raise RuntimeError(f"Discord answered HTTP {response.status_code} for the webhook "
                               "(401/404: wrong or deleted webhook)")
        return "Discord knows the webhook (HTTP 200)"

    def send(self, alert: Alert) -> bool:
        if not self.webhook_url:
            log.info("Discord alert skipped (VETORIAL_DISCORD_WEBHOOK_URL unset): %s", alert.title)
            return False
        # /api/webhooks/<id>/<token>: the last two segments are the credential.
        register_url_secret(self.webhook_url, secret_segments=2)
        install_log_redaction("vetorial.discord", "urllib3.connectionpool")
        payload = alert.payload()
        for attempt in range(1, self.attempts + 1):
            try:
                response = requests.post(self.webhook_url, json=payload, timeout=self.timeout_seconds)
                if response.status_code == 429 and attempt < self.attempts:
                    # Discord rate limit: it says how long to wait.
                    time.sleep(_retry_after(response))
                    continue
                response.raise_for_status()
                return True
            except requests.RequestException as exc:
                if attempt == self.attempts:
                    # The URL (and its path) carries the webhook token: never let it into the message.
                    log.error("Discord alert failed: %s", redact(exc))
                    return False
                time.sleep(attempt)
        return False
