"""Every source of the code location, then the warehouse layers built from them, in the
order the demo runs them.

Adding a source: its folder (assets, schedules, sensors, freshness, a `SOURCE` in its
definitions.py), its tenants.yaml fields, and one line here. A warehouse layer (staging,
model, mart) contributes the same way, with a `LAYER`.
"""

from __future__ import annotations

from .chatwoot.definitions import SOURCE as CHATWOOT
from .instagram.definitions import SOURCE as INSTAGRAM
from .mart.definitions import LAYER as MART
from .meta.definitions import SOURCE as META
from .model.definitions import LAYER as MODEL
from .source import Source
from .staging.definitions import LAYER as STAGING

SOURCES: tuple[Source, ...] = (META, INSTAGRAM, CHATWOOT, STAGING, MODEL, MART)
