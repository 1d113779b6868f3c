"""The one classification of database errors: transient (wait and retry) or not, and
the duplicate key that a unique insert turns into "someone else was first"."""

from __future__ import annotations

from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

DUPLICATE_KEY = 11000

UNREACHABLE: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    ExecutionTimeout,
)

# FerretDB over SQLite answers a write that met another writer's lock with an internal
# error carrying SQLite's text instead of a retryable code; both spellings occur.
_BUSY_TEXTS = ("SQLITE_BUSY", "database is locked")


def is_busy(exc: BaseException) -> bool:
    """The server refused for now because another writer holds a lock."""
    return isinstance(exc, OperationFailure) and any(t in str(exc) for t in _BUSY_TEXTS)


def is_transient(exc: BaseException) -> bool:
    """A failure that waiting fixes: the database unreachable, timed out, busy or locked."""
    if isinstance(exc, UNREACHABLE) or is_busy(exc):
        return True
    # The client-side deadline (timeoutMS) ran out: the server is frozen or overloaded.
    return isinstance(exc, PyMongoError) and exc.timeout


def is_duplicate_key(exc: BaseException) -> bool:
    """A unique index refused the write (the document, or its natural key, exists)."""
    if isinstance(exc, DuplicateKeyError):
        return True
    return isinstance(exc, OperationFailure) and exc.code == DUPLICATE_KEY


def refused_duplicates(exc: BulkWriteError) -> set[int] | None:
    """The indexes of the documents a bulk insert refused as duplicates, or None when it
    failed for any other reason too."""
    errors = exc.details.get("writeErrors", [])
    if not errors or any(e.get("code") != DUPLICATE_KEY for e in errors):
        return None
    return {int(e["index"]) for e in errors}
