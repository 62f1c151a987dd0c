"""Kept so that a dagster.yaml written before the move to vetorial_assets/platform/ still loads
(`module: resources.run_launcher`); every `vetorial` command rewrites it with the new path."""

from vetorial_assets.platform.run_launcher import LocalRunLauncher

__all__ = ["LocalRunLauncher"]
