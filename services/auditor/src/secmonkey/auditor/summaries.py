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
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


class SummaryRecounts:
    """The account-regions whose summary is due, and the task that recounts them."""

    def __init__(
        self,
        db: Database,
        turn: Callable[[Place], AbstractAsyncContextManager[None]],
        delay: float,
        *,
        own_places: bool = False,
    ) -> None:
        self.db = db
        self.own_places = own_places  # one holder per account-region (partition leases)
        self.turn = turn
        self.delay = delay
        self._due: dict[Place, None] = {}
        self._task: asyncio.Task[None] | None = None
        # Recounted by this process since it last took a partition: a sweep's end that
        # changed nothing leaves their summaries as they are.
        self._recounted: set[Place] = set()

    async def changed(self, account_id: str, region: str) -> None:
        """The account-region changed (called in the message's turn)."""
        if self.delay <= 0:
            await self._recount((account_id, region))
            return
        self._due[(account_id, region)] = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="issue-summaries")

    async def swept(self, account_id: str, region: str) -> None:
        """A sweep of the account-region ended and changed nothing: its summary is recounted
        only if this process has not recounted it since it took the place's partition."""
        if not self.own_places or (account_id, region) not in self._recounted:
            await self.changed(account_id, region)

    def forget_recounts(self) -> None:
        """A partition was taken (perhaps back from a replica that changed its places):
        every account-region is recounted again at its next sweep's end."""
        self._recounted.clear()

    async def _recount(self, place: Place) -> None:
        await issue_counters.summarise(self.db, *place)
        self._recounted.add(place)

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
                async with self.turn(place):
                    await self._recount(place)
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
