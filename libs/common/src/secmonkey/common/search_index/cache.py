"""What a reading process keeps of the search index between searches: the range directory
as of the directory's mark, and each account-region's posting documents as of its mark
(`marks.py`). Kept only under a token that was read before the documents (so they are at
least as new as the token says), dropped when the token read next differs, when it is
older than `MAX_AGE`, or to stay within `MAX_LINES`."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_AGE = 60.0  # seconds: the bound on staleness if a writer's mark was ever lost
MAX_LINES = 300_000  # rule lines (and directory places) kept per process, about 60 MB


@dataclass
class Kept:
    """Documents read after the mark's `token` was read, by `_id`."""

    token: str
    at: float
    docs: dict[str, Any] = field(default_factory=dict)
    size: int = 0


class ReadCache:
    """One process's copy of what it has read of one database's index, by mark: the
    directory's documents under `marks.DIRECTORY`, each place's postings under the place.

    Readers use it in one of two ways. With a `current` entry, a reader may read the mark
    and the documents it lacks together: if the mark still holds the entry's token, the
    documents were read after the token was (in an earlier search) and are kept with it.
    Otherwise it reads the mark first, `restart`s the entry with the token, then reads.
    """

    def __init__(self, max_age: float = MAX_AGE, max_size: int = MAX_LINES) -> None:
        self.max_age = max_age
        self.max_size = max_size
        self.entries: OrderedDict[str, Kept] = OrderedDict()
        self.size = 0

    def current(self, mark: str) -> Kept | None:
        """The entry of `mark`, if younger than `max_age` (its token may be out of date)."""
        kept = self.entries.get(mark)
        if kept is None:
            return None
        if time.monotonic() - kept.at >= self.max_age:
            self._drop(mark)
            return None
        self.entries.move_to_end(mark)
        return kept

    def restart(self, mark: str, token: str | None) -> dict[str, Any]:
        """A new, empty entry of `mark` under `token`, just read; its `docs` to fill (not
        kept when the mark has never been set)."""
        self._drop(mark)
        if token is None:
            return {}
        kept = self.entries[mark] = Kept(token, time.monotonic())
        return kept.docs

    def count(self, mark: str, size: int) -> None:
        """Note `size` more lines (or places) kept under `mark`, and drop the least
        recently used entries beyond `max_size`."""
        kept = self.entries.get(mark)
        if kept is None:
            return
        kept.size += size
        self.size += size
        while self.size > self.max_size and len(self.entries) > 1:
            self._drop(next(iter(self.entries)))

    def _drop(self, mark: str) -> None:
        kept = self.entries.pop(mark, None)
        if kept is not None:
            self.size -= kept.size


_CACHES: dict[tuple[int, str], ReadCache] = {}


def cache_of(client: object, database: str) -> ReadCache:
    """The process's cache of one database (keyed by client and name, as a client's
    databases are distinct)."""
    return _CACHES.setdefault((id(client), database), ReadCache())
