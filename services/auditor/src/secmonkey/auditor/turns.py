"""Whose turn it is to write, where writes are not conditional (FerretDB).

Without conditional writes an item is written as it was read, so two messages of one
account-region applied at once could leave an older revision on top. Messages of
different account-regions share no item, roster, summary or exposure state, and what
they do share is written safely (revisions, events and issues by unique id, the range
directory under its mutex), so each account-region takes its turns in arrival order
while up to `limit` account-regions are applied at once: the auditor waits on the
database one command at a time per message, and a batch is some forty commands. A task
of the whole process (justification expiry, settling marked summaries) waits for the
messages under way and runs alone. With conditional writes every turn is free.

One `Turns` per process and database, however many `Auditor` objects the process holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

Place = tuple[str, str]  # account, region


class Turns:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._places: dict[Place, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(limit)
        self._state = asyncio.Condition()
        self._running = 0  # place turns under way
        self._alone = False  # a whole-process turn under way
        self._waiting_alone = 0

    @contextlib.asynccontextmanager
    async def place(self, place: Place) -> AsyncIterator[None]:
        """One account-region's turn (in arrival order), beside at most `limit` - 1 others."""
        lock = self._places.setdefault(place, asyncio.Lock())
        async with lock, self._slots:
            async with self._state:
                await self._state.wait_for(lambda: not self._alone and not self._waiting_alone)
                self._running += 1
            try:
                yield
            finally:
                async with self._state:
                    self._running -= 1
                    self._state.notify_all()

    @contextlib.asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        """A turn with nothing else under way (new place turns wait for it)."""
        async with self._state:
            self._waiting_alone += 1
            try:
                await self._state.wait_for(lambda: not self._alone and not self._running)
            finally:
                self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            async with self._state:
                self._alone = False
                self._state.notify_all()
