"""chatwoot."""
