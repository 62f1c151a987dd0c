"""Warehouse-layer staging assets built from raw tables (staging/conversations)."""
