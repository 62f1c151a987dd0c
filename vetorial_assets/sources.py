"""Every source of the code location, in the order the demo runs them.

Adding a source: its folder (assets, schedules, sensors, freshness, a `SOURCE` in its
definitions.py), its tenants.yaml fields, and one line here.
"""

from __future__ import annotations

from .chatwoot.definitions import SOURCE as CHATWOOT
from .instagram.definitions import SOURCE as INSTAGRAM
from .meta.definitions import SOURCE as META
from .source import Source

SOURCES: tuple[Source, ...] = (META, INSTAGRAM, CHATWOOT)
