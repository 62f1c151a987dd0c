"""Errors raised by the Meta Graph client. Messages are redacted before they are built.

Which Graph codes are worth retrying follows Meta's error reference: rate limits (4, 17,
32, 613, 80000-80014), "unknown"/"unexpected" errors (1, 2), 341, and anything Graph
flags `is_transient`. Bad tokens (190, 102, 104) and missing permissions (10, 200-299)
never get better by waiting, so they fail at once.
"""

from __future__ import annotations

TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, *range(80000, 80015)})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, *range(80000, 80015)})
AUTH_CODES = frozenset({102, 104, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
REDUCE_DATA = (100, 1487534)


class MetaError(Exception):
    """Base of every error the Meta client raises."""


class MetaConfigError(MetaError):
    """The client is not configured (e.g. the token env var is unset)."""


class MetaApiError(MetaError):
    """Graph answered with an error, or could not be reached. Carries Graph's identifiers."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        http_status: int | None = None,
        transient: bool = False,
        account: str | None = None,
    ):
        super().__init__(message)
        self.code, self.subcode, self.fbtrace_id = code, subcode, fbtrace_id
        self.http_status, self.transient, self.account = http_status, transient, account

    def __reduce__(self):  # picklable across Dagster's process boundaries
        return (_rebuild, (type(self), self.args[0], self.__dict__))


def _rebuild(cls, message, state):
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class MetaAuthError(MetaApiError):
    """The token is invalid/expired or lacks a permission: renew it or grant access, do not retry."""


class MetaReduceDataError(MetaApiError):
    """Graph asked us to ask for less data (code 100, subcode 1487534)."""


class MetaAsyncJobError(MetaApiError):
    """An async report job failed, was skipped or did not finish in time."""


class MetaConnectionError(MetaApiError):
    """No usable HTTP answer (connection refused/reset, timeout, bad gateway page)."""
