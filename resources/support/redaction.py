"""Keep access tokens out of text: logs, exception messages, stored payloads.

Graph tokens travel in URLs (`?access_token=...`): requests' ConnectionError messages,
urllib3's debug log lines and Graph's own `paging.next` links all carry them. Everything
the Meta client logs, raises or returns passes through `redact`.

A Discord webhook's secret is in its path (`/api/webhooks/<id>/<token>`), and requests'
errors and urllib3's log lines carry the path without the host: `register_url_secret`
registers the path and its secret segments along with the whole URL.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit

MASK = "***"

# Query values that are secrets whatever the token is (also catches tokens we were not told about).
_SECRET_PARAMS = re.compile(r"((?:access_token|appsecret_proof|client_secret)=)[^&\s'\"<>#\\]+", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"((?:Bearer|OAuth)\s+)[A-Za-z0-9._\-|%]{8,}")
_JSON_TOKEN = re.compile(r"""(["']access_token["']\s*:\s*["'])[^"']+""", re.IGNORECASE)

_known: set[str] = set()
_known_lock = threading.Lock()


def _variants(secret: str) -> set[str]:
    # The same token may appear raw or URL-encoded (app tokens contain '|').
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def register_secret(secret: str | None) -> None:
    """Remember a secret so `redact` (and the logging filter) mask it even without being told."""
    if secret and len(secret) >= 8:
        with _known_lock:
            _known.update(_variants(secret))


def register_url_secret(url: str | None, secret_segments: int) -> None:
    """Register a URL whose last `secret_segments` path segments are a credential (a Discord
    webhook: id and token): the URL, its path, and each tail of those segments ("<id>/<token>",
    "<token>"), so no form in which a client may print it survives `redact`."""
    if not url:
        return
    register_secret(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    segments = [s for s in parts.path.split("/") if s]
    register_secret(parts.path)
    for start in range(max(0, len(segments) - secret_segments), len(segments)):
        register_secret("/".join(segments[start:]))


def redact(text: object, secrets=()) -> str:
    """`text` as a string with every known or given secret and every access_token value masked."""
    out = str(text)
    with _known_lock:
        values = set(_known)
    for secret in secrets:
        if secret and len(secret) >= 8:
            values |= _variants(secret)
    for value in sorted(values, key=len, reverse=True):
        if value in out:
            out = out.replace(value, MASK)
    out = _SECRET_PARAMS.sub(lambda m: m.group(1) + MASK, out)
    out = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, out)
    return _JSON_TOKEN.sub(lambda m: m.group(1) + MASK, out)


def redact_obj(obj, secrets=()):
    """A copy of a JSON-like value with every string redacted (dict keys kept as they are)."""
    if isinstance(obj, str):
        return redact(obj, secrets)
    if isinstance(obj, dict):
        return {k: redact_obj(v, secrets) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v, secrets) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    """Rewrites a record's message, and its traceback text, with secrets masked before any
    handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set instead of formatting exc_info again.
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
        return True


# Every urllib3 logger that prints a request's URL, query string (and so a Graph token) or
# path (a Discord webhook's secret) included: connectionpool logs each request line at DEBUG;
# connection warns "Failed to parse headers (url=...)" at WARNING, printed by default, when a
# server or proxy sends a header it cannot parse; retry and poolmanager log URLs on retries
# and redirects. A filter on a logger does not see its children's records: each one is named.
URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.response",
    "urllib3.poolmanager",
    "urllib3.util.retry",
)
_installed: set[str] = set()


def install_log_redaction(*logger_names: str) -> None:
    """Attach the filter to loggers that may print URLs with tokens (idempotent); "urllib3"
    stands for every urllib3 logger (URLLIB3_LOGGERS and any other already created)."""
    names: list[str] = []
    for name in logger_names or ("dagster.builtin.vetorial.meta", "urllib3"):
        if name == "urllib3":
            names += [
                *URLLIB3_LOGGERS,
                "urllib3",
                *(n for n in list(logging.root.manager.loggerDict) if n.startswith("urllib3.")),
            ]
        else:
            names.append(name)
    for name in names:
        if name in _installed:
            continue
        logging.getLogger(name).addFilter(RedactingFilter())
        _installed.add(name)
