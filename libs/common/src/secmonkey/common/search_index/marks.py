"""Marks: one small document per account-region (for its postings) and one for the range
directory, each given a new random token after every write to what it covers, so that a
reader keeping what it read can tell with one point read whether that is still current
(see README.md, "Marks and the reader's cache").

A mark is set after the writes it covers: a reader that sees the new token reads after
them. A writer that stopped between its writes and the mark is replayed (its message was
not acknowledged), and a replay sets the mark again; a reader never keeps anything for
longer than `cache.MAX_AGE` either way.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable

from secmonkey.common.storage import Database, Store

MARKS = "rule_marks"
DIRECTORY = "directory"  # the mark of `rule_ranges` (range documents and `lengths`)


async def touch(store: Store, ids: Iterable[str]) -> None:
    """Give each mark in `ids` a new token (creating it if missing), after the writes it
    covers."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    token = secrets.token_hex(8)
    await store.put(MARKS, {i: {"t": token} for i in wanted})


async def token(db: Database, mark_id: str) -> str | None:
    """The mark's current token; None if it has never been set (nothing to compare)."""
    return (await tokens(db, [mark_id]))[mark_id]


async def tokens(db: Database, mark_ids: list[str]) -> dict[str, str | None]:
    """The current token of each mark, read together (`Store.read`); None for a mark
    never set."""
    docs = await Store(db).read(MARKS, mark_ids)
    return {m: (str(docs[m]["t"]) if docs.get(m, {}).get("t") else None) for m in mark_ids}


class Reading:
    """The tokens one reader's task reads, each mark once: those it names at the start in
    one batch (begun at once), any other when first asked."""

    def __init__(self, db: Database, first: list[str]) -> None:
        self.db = db
        self.read: dict[str, asyncio.Future[str | None]] = {}
        if first:
            batch = asyncio.ensure_future(tokens(db, first))
            for mark in first:
                self.read[mark] = asyncio.ensure_future(_pick(batch, mark))

    async def token(self, mark: str) -> str | None:
        if mark not in self.read:
            self.read[mark] = asyncio.ensure_future(token(self.db, mark))
        return await self.read[mark]


async def _pick(batch: asyncio.Future[dict[str, str | None]], mark: str) -> str | None:
    return (await batch)[mark]
