"""The source database URL: parsed for the psycopg 3 driver, and shown only with its password
masked."""

from __future__ import annotations

from sqlalchemy import make_url
from sqlalchemy.engine import URL


def parse_url(url: str) -> URL:
    """A SQLAlchemy URL on the psycopg 3 driver, from any postgres[ql][+driver]:// form.

    Errors never echo the input: it may hold a password."""
    try:
        parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    except Exception:
        raise ValueError("the Chatwoot database URL is not a valid database URL") from None
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"the Chatwoot database URL must be PostgreSQL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg")


def safe_url(url: str) -> str:
    """`url` with the password masked: the only form of it that may be logged or shown."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except ValueError:
        return "<invalid database URL>"
