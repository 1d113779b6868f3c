"""A PyMongo listener counting the `find` commands a client sends, by collection, and a
store keeping the directory mutexes it takes: what the tests of cached and batched reads,
and of the directory's writers, assert on."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import monitoring

from secmonkey.common.search_index import directory
from secmonkey.common.storage import Database, Document, Store


class Finds(monitoring.CommandListener):
    """The collections of the `find`s sent, in order."""

    def __init__(self) -> None:
        self.finds: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.finds.append(str(event.command["find"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def of(self, collection: str) -> int:
        return self.finds.count(collection)


class LockCounting(Store):
    """The real store, keeping the mutexes it asks for."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.locked: list[str] = []

    async def insert(self, collection: str, docs: Sequence[Document]) -> set[int]:
        if collection == directory.LOCKS:
            self.locked += [str(d["_id"]) for d in docs]
        return await super().insert(collection, docs)
