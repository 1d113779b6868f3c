"""A PyMongo listener counting the `find` commands a client sends, by collection: what the
tests of cached and batched reads assert on."""

from __future__ import annotations

from pymongo import monitoring


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
