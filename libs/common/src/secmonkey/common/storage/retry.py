"""The one retry helper: run a database operation again while the failure is transient."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from secmonkey.common.storage.errors import is_busy, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")


async def with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    base_delay: float = 0.2,
    max_delay: float = 10.0,
) -> T:
    """Run `operation`, retrying with capped exponential backoff while it fails
    transiently (unreachable, timed out, busy or locked); any other error is raised.

    With `attempts=None` it waits for as long as it takes: a consumer must never drop or
    half-apply a message because the database blinked.
    """
    delay = base_delay
    tried = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not is_transient(exc):
                raise
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            level = logging.DEBUG if is_busy(exc) else logging.WARNING
            log.log(level, "database unavailable during %s (%s); retry in %.2fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
