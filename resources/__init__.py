"""Dagster resources and the I/O they own (warehouse, sources, Graph API, alerts)."""
