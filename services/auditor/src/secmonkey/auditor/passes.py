"""Passes: several account-regions' messages applied together, each step once for all.

Applying a SnapshotBatch takes about sixteen database commands whatever its size (the
rosters, revisions, issues, events, the search index, the items…), and on the local
default a command costs about a millisecond of CPU between driver and server, as much as
the rest of the work on twenty groups (bench/scale/README.md). So the messages waiting
for distinct account-regions are applied in one pass, every step once for all of them:
each account-region's writes keep their order, and a pass is as safe to redo as a message.

- Order: no two running passes share an account-region, and each account-region's
  messages are taken in arrival order. A SweepCompleted goes alone.
- Load: at most `concurrency` passes run at once, of at most `size` messages. A message
  that finds a free slot starts at once, alone (real time waits for no company); under
  load, every slot that frees takes what has waited meanwhile.
- Failure: a pass of one message fails as the message did. A pass of several is redone
  one message at a time, so that one bad message cannot fail the others, except when the
  database is unreachable or busy, which fails them all (their consumers retry them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from secmonkey.auditor import metrics
from secmonkey.auditor.turns import Place
from secmonkey.common.messages import Event, SnapshotBatch, SweepCompleted
from secmonkey.common.storage import is_transient

log = logging.getLogger(__name__)

Message = SnapshotBatch | SweepCompleted
Apply = Callable[[list[Message]], Awaitable[list[list[Event]]]]


@dataclass
class _Waiting:
    message: Message
    future: asyncio.Future[list[Event]]

    @property
    def place(self) -> Place:
        return (self.message.account_id, self.message.region)


class Passes:
    """Gathers the messages handed to `submit` into passes of `apply`."""

    def __init__(self, apply: Apply, *, size: int, concurrency: int) -> None:
        self.apply = apply
        self.size = size
        self.concurrency = concurrency
        self.sizes: list[int] = []  # of the last 100 passes run
        self._waiting: list[_Waiting] = []
        self._busy: set[Place] = set()
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, message: Message) -> list[Event]:
        """Apply `message` in a pass; the events it produced."""
        waiting = _Waiting(message, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        self._start()
        try:
            return await waiting.future
        finally:
            if waiting in self._waiting:  # cancelled before its pass
                self._waiting.remove(waiting)

    def _start(self) -> None:
        while len(self._running) < self.concurrency:
            taken = self._take()
            if not taken:
                return
            self._busy.update(w.place for w in taken)
            task = asyncio.create_task(self._run(taken), name="auditor pass")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _take(self) -> list[_Waiting]:
        """The next pass: waiting messages in arrival order, one per account-region, none
        of an account-region a running pass holds or an earlier message left waiting."""
        taken: list[_Waiting] = []
        blocked = set(self._busy)
        for waiting in self._waiting:
            if len(taken) >= self.size:
                break
            if waiting.future.done() or waiting.place in blocked:
                continue
            blocked.add(waiting.place)
            if isinstance(waiting.message, SweepCompleted):
                if not taken:
                    taken.append(waiting)
                    break
                continue
            taken.append(waiting)
        for waiting in taken:
            self._waiting.remove(waiting)
        return taken

    async def _run(self, taken: list[_Waiting]) -> None:
        self.sizes = [*self.sizes[-99:], len(taken)]
        metrics.PASS_MESSAGES.observe(len(taken))
        try:
            try:
                results = await self.apply([w.message for w in taken])
            except Exception as exc:
                if len(taken) == 1 or is_transient(exc):
                    for waiting in taken:
                        _fail(waiting, exc)
                    return
                log.warning(
                    "a pass of %d messages failed (%s: %s); applying each alone",
                    len(taken),
                    exc.__class__.__name__,
                    exc,
                )
                await self._alone(taken)
            else:
                for waiting, events in zip(taken, results, strict=True):
                    if not waiting.future.done():
                        waiting.future.set_result(events)
        except BaseException:
            for waiting in taken:
                if not waiting.future.done():
                    waiting.future.cancel()
            raise
        finally:
            self._busy.difference_update(w.place for w in taken)
            self._running.discard(asyncio.current_task())
            self._start()

    async def _alone(self, taken: list[_Waiting]) -> None:
        for waiting in taken:
            if waiting.future.done():
                continue
            try:
                (events,) = await self.apply([waiting.message])
            except Exception as exc:
                _fail(waiting, exc)
            else:
                if not waiting.future.done():
                    waiting.future.set_result(events)


def _fail(waiting: _Waiting, exc: Exception) -> None:
    if not waiting.future.done():
        waiting.future.set_exception(exc)
