"""Where VETORIAL_HOME is when it is not exported, so the plain Dagster CLI finds the same
embedded server and data as the `vetorial` command that prepared the instance.

In order: VETORIAL_HOME; the home recorded in $DAGSTER_HOME/dagster.yaml by a `vetorial`
command (its `# VETORIAL_HOME=` line, or the storage config's `home`); `./.vetorial`
under the current directory.
"""

from __future__ import annotations

from pathlib import Path

import yaml

HOME_LINE = "# VETORIAL_HOME="
DEFAULT_HOME = ".vetorial"


def recorded_home(dagster_home: str | Path) -> Path | None:
    """The home a `vetorial` command wrote into `dagster_home`/dagster.yaml, if any."""
    config = Path(dagster_home).expanduser() / "dagster.yaml"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(HOME_LINE):
            return Path(line[len(HOME_LINE) :].strip())
    try:
        storage = (yaml.safe_load(text) or {}).get("storage") or {}
        home = ((storage.get("custom") or {}).get("config") or {}).get("home")
    except (yaml.YAMLError, AttributeError):
        return None
    return Path(home) if isinstance(home, str) and home else None


def resolve_home(explicit: str | None, dagster_home: str | None) -> Path:
    """`explicit`: VETORIAL_HOME, `dagster_home`: DAGSTER_HOME, as settings.py read them."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    recorded = recorded_home(dagster_home) if dagster_home else None
    return (recorded or Path(DEFAULT_HOME)).expanduser().resolve()
