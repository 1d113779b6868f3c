"""The exception hierarchy shared by every service."""


class SecmonkeyError(Exception):
    """Base of every error secmonkey raises on purpose."""


class InvalidInput(SecmonkeyError, ValueError):
    """Input that can never succeed (a bad CIDR, a malformed message): refuse, do not retry."""


class PermanentError(SecmonkeyError):
    """Processing failed in a way a retry will not fix: the message goes to the dead-letter queue."""


class TransientError(SecmonkeyError):
    """A dependency is briefly unavailable: retry with backoff, never drop."""


class NotFound(SecmonkeyError):
    """The thing asked for does not exist."""


class Conflict(SecmonkeyError):
    """A conditional write lost a race; re-read and retry."""
