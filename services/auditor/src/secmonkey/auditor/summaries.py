"""When the auditor recomputes an account-region's issue summary (`issue_counters`).

After every message that changed something, and at every sweep's end (so a summary missed
by a crash, or of an older shape, is right again within a sweep). A summary is a read of
the whole account-region, so it stays off the path of the alert: with `delay` > 0 it is
recomputed that long after the change that asked for it, once for every change that came
meanwhile (a burst of real-time changes costs one recount, not one each), after the
events were published. With `delay` 0 (tests, tools) it is recomputed at once, in the
message's turn. A recount that fails is retried after `delay`; one lost with the process
is made again at the account-region's next sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from secmonkey.common import issue_counters
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

Place = tuple[str, str]  # account, region


class SummaryRecounts:
    """The account-regions whose summary is due, and the task that recounts them."""

    def __init__(
        self, db: Database, turn: Callable[[], AbstractAsyncContextManager[None]], delay: float
    ) -> None:
        self.db = db
        self.turn = turn
        self.delay = delay
        self._due: dict[Place, None] = {}
        self._task: asyncio.Task[None] | None = None

    async def changed(self, account_id: str, region: str) -> None:
        """The account-region changed (called in the message's turn)."""
        if self.delay <= 0:
            await issue_counters.summarise(self.db, account_id, region)
            return
        self._due[(account_id, region)] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="issue-summaries")

    @property
    def due(self) -> int:
        return len(self._due)

    async def _run(self) -> None:
        while self._due:
            await asyncio.sleep(self.delay)
            await self.flush()

    async def flush(self) -> int:
        """Recount every due account-region now; how many were recounted."""
        done = 0
        for place in list(self._due):
            self._due.pop(place, None)
            try:
                async with self.turn():
                    await issue_counters.summarise(self.db, *place)
                done += 1
            except asyncio.CancelledError:
                self._due[place] = None
                raise
            except Exception as exc:
                self._due[place] = None  # retried after `delay`
                log.warning("summary of %s/%s not recounted: %s", *place, exc)
        return done

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
