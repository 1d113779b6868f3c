"""Whose turn it is to write, where writes are not conditional (FerretDB).

Without conditional writes an item is written as it was read, so two messages of one
account-region applied at once could leave an older revision on top. Messages of
different account-regions share no item, roster, summary or exposure state, and what
they do share is written safely (revisions, events and issues by unique id, the range
directory under its mutex), so each account-region takes its turns in arrival order
while up to `limit` messages, or passes of several (`passes`), are applied at once: the
auditor waits on the database one command at a time per pass, and a pass is dozens of
commands. The
tasks that are not messages (justification expiry, marked summaries, delayed recounts)
take the turn of each account-region they write. With conditional writes every turn is
free.

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

    @contextlib.asynccontextmanager
    async def place(self, place: Place) -> AsyncIterator[None]:
        """One account-region's turn (in arrival order), beside at most `limit` - 1 others."""
        async with self.places([place]):
            yield

    @contextlib.asynccontextmanager
    async def places(self, places: list[Place]) -> AsyncIterator[None]:
        """The turns of several account-regions (a pass), in one slot. The turns are taken
        in sorted order and the slot last, so that no two takers wait on each other."""
        async with contextlib.AsyncExitStack() as stack:
            for place in sorted(set(places)):
                await stack.enter_async_context(self._places.setdefault(place, asyncio.Lock()))
            await stack.enter_async_context(self._slots)
            yield
