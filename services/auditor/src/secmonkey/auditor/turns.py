"""Whose turn it is to write, where writes are not conditional (FerretDB).

Without conditional writes, two messages about one group must not be applied at once: the
unique revision ids serialise revisions, but an unguarded item write could leave an older
revision on top. A group belongs to one account-region, so one message at a time **per
account-region** is enough: messages of different account-regions interleave (what
auditor replicas on different partitions already do against one database), and their
reads and writes overlap instead of queueing behind one lock. A job that writes across
account-regions (expiring justifications) runs alone: it waits for the turns under way,
and new ones wait for it.

Shared per process and database, however many `Auditor` objects the process holds (tests
run several as replicas of one process).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from secmonkey.common.storage import Database

Place = tuple[str, str]  # account, region


class Turns:
    def __init__(self) -> None:
        self._places: dict[Place, asyncio.Lock] = {}
        self._gate = asyncio.Lock()  # held by a whole-database job, waiting or running
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def place(self, account_id: str, region: str) -> AsyncIterator[None]:
        """The account-region's turn (in the order asked)."""
        async with self._gate:
            self._active += 1
            self._idle.clear()
        try:
            async with self._places.setdefault((account_id, region), asyncio.Lock()):
                yield
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def everything(self) -> AsyncIterator[None]:
        """Every account-region's turn at once."""
        async with self._gate:
            await self._idle.wait()
            yield


_TURNS: dict[tuple[int, str], Turns] = {}


def turns_of(db: Database) -> Turns:
    return _TURNS.setdefault((id(db.client), db.name), Turns())
