"""Kept so that a dagster.yaml written before the move to vetorial_assets/platform/ still loads
(`module: resources.dagster_storage`); every `vetorial` command rewrites it with the new path."""

from vetorial_assets.platform.dagster_storage import VetorialDagsterStorage

__all__ = ["VetorialDagsterStorage"]
