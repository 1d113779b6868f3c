"""Many messages' findings into few `BatchImportFindings` calls of at most 100 each.

Each message's handler submits the issue ids it is about and waits for the calls that
carry them; findings of one account and region are gathered for up to `linger` seconds
(or until 100 are waiting) and sent in one call, one call at a time per account-region.
The issues are read when the call is made, not when the message arrived, so findings
always go out in their latest state and a late message cannot send an older one over a
newer one. A call that fails makes every handler waiting on it fail the same way (the
consumer then retries in place or dead-letters); a finding Security Hub refuses fails
only the handlers that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from secmonkey.collector.securityhub.asff import MAX_BATCH
from secmonkey.common.errors import PermanentError

# (account id, region, issue ids) -> {issue id: why Security Hub refused it}
Send = Callable[[str, str, list[str]], Awaitable[dict[str, str]]]


@dataclass
class _Batch:
    ids: dict[str, None] = field(default_factory=dict)  # ordered set
    done: asyncio.Future[dict[str, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    timer: asyncio.Task[None] | None = None


class Batcher:
    def __init__(self, send: Send, *, linger: float = 1.0, size: int = MAX_BATCH) -> None:
        self.send = send
        self.linger = linger
        self.size = min(size, MAX_BATCH)
        self._open: dict[tuple[str, str], _Batch] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def submit(self, account_id: str, region: str, ids: Sequence[str]) -> None:
        """Return once every finding of `ids` was imported; raise if any was not."""
        key = (account_id, region)
        waits: list[tuple[list[str], asyncio.Future[dict[str, str]]]] = []
        for issue_id in dict.fromkeys(ids):
            batch = self._open.get(key)
            if batch is None:
                batch = self._open[key] = _Batch()
                batch.timer = asyncio.create_task(self._flush_later(key, batch))
            batch.ids[issue_id] = None
            if not waits or waits[-1][1] is not batch.done:
                waits.append(([], batch.done))
            waits[-1][0].append(issue_id)
            if len(batch.ids) >= self.size:
                self._start(key, batch)
        refused: list[str] = []
        for mine, done in waits:
            failures = await asyncio.shield(done)
            refused += [f"{i}: {failures[i]}" for i in mine if i in failures]
        if refused:
            raise PermanentError(f"Security Hub refused {len(refused)} finding(s): {refused[0]}")

    def _start(self, key: tuple[str, str], batch: _Batch) -> None:
        if self._open.get(key) is batch:
            del self._open[key]
        if batch.timer is not None and batch.timer is not asyncio.current_task():
            batch.timer.cancel()
        task = asyncio.create_task(self._flush(key, batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush_later(self, key: tuple[str, str], batch: _Batch) -> None:
        await asyncio.sleep(self.linger)
        self._start(key, batch)

    async def _flush(self, key: tuple[str, str], batch: _Batch) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one call at a time per account-region: the newest state lands last
            try:
                failures = await self.send(key[0], key[1], list(batch.ids))
            except Exception as exc:
                batch.done.set_exception(exc)
            else:
                batch.done.set_result(failures)
        # Nobody may be waiting any more (a handler cancelled at shutdown).
        if batch.done.done() and not batch.done.cancelled():
            batch.done.exception()

    async def close(self) -> None:
        for batch in list(self._open.values()):
            if batch.timer is not None:
                batch.timer.cancel()
            if not batch.done.done():
                batch.done.cancel()
        self._open.clear()
        for task in list(self._flushes):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
