"""Stopping background tasks with a bound.

A library may swallow the cancellation of a task waiting on it (aiormq can, while a channel
opens or closes), so `task.cancel(); await task` may never return. Every service stops its
background tasks through `stop_tasks`: cancelled, awaited at most `seconds`, and a task that
did not stop is named in the log and abandoned instead of holding the shutdown forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

TASK_STOP_SECONDS = 5.0


async def stop_tasks(
    tasks: Iterable[asyncio.Task[object] | None], seconds: float = TASK_STOP_SECONDS
) -> None:
    """Cancel `tasks` (None entries are skipped) and wait for them, at most `seconds`."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    if not running:
        return
    _, stuck = await asyncio.wait(running, timeout=seconds)
    for task in stuck:
        log.warning("task %s did not stop when cancelled; abandoned", task.get_name())
    for task in running:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed task was already logged where it ran
