"""Sending a tick's alerts: a few embeds, the rest summed up in one (Discord's webhook rate limit
is 5 requests per 2 seconds; an outage that turns fifty things red must not become fifty posts)."""

from __future__ import annotations

from collections.abc import Sequence

from resources.discord import Alert, DiscordNotifier

MAX_ALERTS_PER_TICK = 4


def send_alerts(discord: DiscordNotifier, alerts: Sequence[Alert], logger=None) -> int:
    """Post `alerts` (at most MAX_ALERTS_PER_TICK, then one summary of the rest); the number of
    posts Discord took. Never raises: a broken webhook is logged by the notifier."""
    if not alerts:
        return 0
    shown = (
        list(alerts[:MAX_ALERTS_PER_TICK])
        if len(alerts) <= MAX_ALERTS_PER_TICK + 1
        else list(alerts[:MAX_ALERTS_PER_TICK])
    )
    rest = list(alerts[len(shown) :])
    if rest:
        shown.append(
            Alert(
                title=f"... and {len(rest)} more alert(s)",
                description="\n".join(f"- {a.title}" + (f" ({a.url})" if a.url else "") for a in rest[:30]),
                color=rest[0].color,
            )
        )
    return sum(discord.send(alert, logger=logger) for alert in shown)
