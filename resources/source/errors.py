"""What can go wrong reading the source; no message carries the URL's password."""


class SourceSchemaError(RuntimeError):
    """The source relation is missing, or lacks columns the ETL needs (all of them listed)."""


class SourceConnectionError(RuntimeError):
    """The source database could not be reached, or the connection was lost (message without
    the password)."""


class SourceReadError(RuntimeError):
    """A statement on the source failed (e.g. timed out); the message names the source and, for
    a timeout, the setting that ended it."""
