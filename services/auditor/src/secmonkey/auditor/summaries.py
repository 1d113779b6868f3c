"""When the auditor recomputes an account-region's issue summary (`issue_counters`).

After every message that changed something, and at a sweep's end of an account-region this
process has not recounted since it took the account-region's partition (so a summary
missed by a crash, by another replica, or of an older shape is right again within a sweep
of a new holder, and an unchanged sweep's end costs nothing after that; without
partitions, `own_places` false, at every sweep's end). A summary is a read of
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

from secmonkey.auditor.turns import Place
from secmonkey.common import issue_counters
from secmonkey.common.storage import Database, Document

log = logging.getLogger(__name__)


RECOUNT_PLACES = 16  # account-regions recounted together (in their turns)


class SummaryRecounts:
    """The account-regions whose summary is due, and the task that recounts them."""

    def __init__(
        self,
        db: Database,
        turns: Callable[[list[Place]], AbstractAsyncContextManager[None]],
        delay: float,
        *,
        own_places: bool = False,
    ) -> None:
        self.db = db
        self.own_places = own_places  # one holder per account-region (partition leases)
        self.turns = turns
        self.delay = delay
        self._due: dict[Place, None] = {}
        self._task: asyncio.Task[None] | None = None
        # Recounted by this process since it last took a partition: a sweep's end that
        # changed nothing leaves their summaries as they are.
        self._recounted: set[Place] = set()

    async def changed(self, places: list[Place]) -> None:
        """These account-regions changed (called in their turns)."""
        if not places:
            return
        if self.delay <= 0:
            await self._recount(places)
            return
        self._due.update(dict.fromkeys(places))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="issue-summaries")

    async def swept(self, places: list[Place]) -> None:
        """Sweeps of these account-regions ended and changed nothing: a summary is
        recounted only if this process has not recounted it since it took the place's
        partition."""
        await self.changed([p for p in places if not self.own_places or p not in self._recounted])

    async def stored(self, states: dict[Place, tuple[list[Document], list[Document]]]) -> None:
        """Store the summaries of account-regions whose active items and open issues the
        caller knows without a read (a first sight, in their turns): no recount is due."""
        if states:
            await issue_counters.store_summaries(self.db, states)
            self._recounted.update(states)
            for place in states:
                self._due.pop(place, None)

    def forget_recounts(self) -> None:
        """A partition was taken (perhaps back from a replica that changed its places):
        every account-region is recounted again at its next sweep's end."""
        self._recounted.clear()

    async def _recount(self, places: list[Place]) -> None:
        await issue_counters.summarise_all(self.db, places)
        self._recounted.update(places)

    @property
    def due(self) -> int:
        return len(self._due)

    async def _run(self) -> None:
        while self._due:
            await asyncio.sleep(self.delay)
            await self.flush()

    async def flush(self) -> int:
        """Recount every due account-region now, `RECOUNT_PLACES` at a time in their turns;
        how many were recounted."""
        done = 0
        due = list(self._due)
        for start in range(0, len(due), RECOUNT_PLACES):
            places = due[start : start + RECOUNT_PLACES]
            for place in places:
                self._due.pop(place, None)
            try:
                async with self.turns(places):
                    await self._recount(places)
                done += len(places)
            except asyncio.CancelledError:
                self._due.update(dict.fromkeys(places))
                raise
            except Exception as exc:
                self._due.update(dict.fromkeys(places))  # retried after `delay`
                log.warning("summaries of %d account-regions not recounted: %s", len(places), exc)
        return done

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
