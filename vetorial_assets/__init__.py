"""vetorial_assets: the Dagster code location (see definitions.py for `defs`)."""
