"""`DiscordNotifier`: post an embed to a Discord webhook (red failure, green recovery).

The webhook URL embeds its own secret token: it comes from VETORIAL_DISCORD_WEBHOOK_URL
through EnvVar, and is never logged or included in an error (the seed's alert channel).
requests' errors and urllib3's debug lines carry the URL's path, which holds the id and
token: the path and both segments are registered as secrets before the first request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from resources.support.redaction import install_log_redaction, redact, register_url_secret

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
    # The run, asset or check in the Dagster UI (the embed's title links to it).
    url: str | None = None

    def payload(self) -> dict:
        embed = {
            "title": self.title[:_TITLE_MAX],
            "description": self.description[:_DESCRIPTION_MAX],
            "color": self.color,
            "fields": [{"name": k, "value": (v or "-")[:_FIELD_MAX], "inline": True} for k, v in self.fields.items()],
        }
        if self.url:
            embed["url"] = self.url
        return {"embeds": [embed]}


def _retry_after(response: requests.Response) -> float:
    """Seconds a 429 asks to wait: its JSON `retry_after`, else the Retry-After header, else 1."""
    for read in (lambda: response.json()["retry_after"], lambda: response.headers["Retry-After"]):
        try:
            return max(0.0, float(read()))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return 1.0


class DiscordNotifier(ConfigurableResource):
    """Unset webhook: alerts are logged and skipped (local runs, CI).

    An alert never raises and never takes longer than `budget_seconds`, requests and waits
    together: it is sent from a sensor, which Dagster stops after 60 s, and a slow or
    rate-limited Discord must not take the sensor's other work down with it. A 429's
    `retry_after` is waited when it fits in what is left of the budget; else the alert is
    given up at once (logged)."""

    webhook_url: str | None = Field(default=None, repr=False, description="Discord webhook URL (a secret).")
    timeout_seconds: float = 10.0
    attempts: int = 3
    budget_seconds: float = Field(default=40.0, description="Most time one alert may take, waits included.")

    _sleep: Callable[[float], None] | None = PrivateAttr(default=None)

    def set_sleep(self, sleep: Callable[[float], None]) -> DiscordNotifier:
        """Replace time.sleep between attempts (tests record instead of sleeping)."""
        self._sleep = sleep
        return self

    def _with_updated_values(self, values):
        # Dagster makes a new instance per run or sensor evaluation from the config fields
        # only: keep the hook.
        out = super()._with_updated_values(values)
        out._sleep = self._sleep
        return out

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url)

    def check(self) -> str:
        """Ask Discord about the webhook without posting (GET on a webhook URL describes it).
        Raises with a redacted message when it does not answer 200; never returns the body,
        which repeats the token."""
        register_url_secret(self.webhook_url, secret_segments=2)
        install_log_redaction("vetorial.discord", "urllib3")
        try:
            response = requests.get(self.webhook_url, timeout=self.timeout_seconds)
        except requests.RequestException as exc:
            raise RuntimeError(f"Discord webhook unreachable: {redact(exc)}") from None
        if response.status_code != 200:
            raise RuntimeError(
                f"Discord answered HTTP {response.status_code} for the webhook (401/404: wrong or deleted webhook)"
            )
        return "Discord knows the webhook (HTTP 200)"

    def send(self, alert: Alert, logger: logging.Logger | None = None) -> bool:
        """Post the alert; True when Discord took it. Never raises. `logger` (e.g. a sensor's
        context.log) also gets the line saying why an alert was not sent."""
        if not self.webhook_url:
            log.info("Discord alert skipped (VETORIAL_DISCORD_WEBHOOK_URL unset): %s", alert.title)
            return False
        # /api/webhooks/<id>/<token>: the last two segments are the credential.
        register_url_secret(self.webhook_url, secret_segments=2)
        install_log_redaction("vetorial.discord", "urllib3")
        payload = alert.payload()
        sleep = self._sleep if self._sleep is not None else time.sleep
        spent = 0.0  # requests' time and waits, against budget_seconds

        def give_up(reason: str) -> bool:
            # The URL (and its path) carries the webhook token: never let it into the message.
            line = f"Discord alert failed: {redact(reason)} (alert '{alert.title}' not sent)"
            log.error(line)
            if logger is not None:
                logger.error(line)
            return False

        for attempt in range(1, self.attempts + 1):
            left = self.budget_seconds - spent
            if left <= 0:
                return give_up(f"no time left of its {self.budget_seconds:.0f}s budget after {attempt - 1} attempts")
            started = time.monotonic()
            try:
                response = requests.post(self.webhook_url, json=payload, timeout=min(self.timeout_seconds, left))
                spent += time.monotonic() - started
                if response.status_code == 429:
                    # Discord's rate limit says how long to wait: wait it, unless that takes
                    # the alert past its budget (then retrying earlier only extends the block).
                    wait = _retry_after(response)
                    if attempt == self.attempts or spent + wait > self.budget_seconds:
                        return give_up(
                            f"Discord answered HTTP 429 (rate limited for {wait:.1f}s) to attempt "
                            f"{attempt} of {self.attempts}"
                        )
                    sleep(wait)
                    spent += wait
                    continue
                response.raise_for_status()
                return True
            except requests.RequestException as exc:
                spent += time.monotonic() - started
                if attempt == self.attempts or spent + attempt > self.budget_seconds:
                    return give_up(f"{exc} (attempt {attempt} of {self.attempts})")
                sleep(attempt)
                spent += attempt
            except Exception as exc:  # e.g. a malformed URL urllib3 rejects: still not the sensor's failure
                return give_up(f"{type(exc).__name__}: {exc}")
        return False
