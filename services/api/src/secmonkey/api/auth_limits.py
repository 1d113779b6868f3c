"""Failed sign-ins counted per key (or user) and per client address, in the database.

Each subject has one counter document per fixed window (`auth_failures`, `_id` =
`<scope>:<subject>:<window start>`), raised with an `$inc` upsert, so every replica counts
into the same document and sees the same total. Past the limit a failure answers 429 with
`Retry-After` (the end of the window) instead of 401; a valid key is never refused, so an
attacker cannot lock out a key's owner by guessing from elsewhere. The first refusal of a
window is recorded in the audit log (`auth.failures_burst`, an `admin.*` event).

A replica that saw a subject refused remembers it until the window ends, so a flood costs
it no database writes. Old windows are deleted by `expire`, run periodically.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from secmonkey.common.outbox import Outbox
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database, is_duplicate_key

log = logging.getLogger(__name__)

Scope = Literal["key", "user", "address"]
MEMO_LIMIT = 10_000


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    per_subject: int
    per_address: int


@dataclass(frozen=True)
class Subject:
    scope: Scope
    value: str  # a key's SHA-256, a user name, or an address

    @property
    def shown(self) -> str:
        """How the audit log names it: never a key's characters (its hash's first 12)."""
        if self.scope == "key":
            return f"key sha256:{self.value[:12]}"
        return f"{self.scope} {self.value}"

    @classmethod
    def of_key(cls, key: str) -> Subject:
        return cls("key", hashlib.sha256(key.encode()).hexdigest())


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; retry after {retry_after} s")
        self.retry_after = retry_after


class AuthLimiter:
    """Counts failures and says when a subject is over its limit."""

    def __init__(self, db: Database, outbox: Outbox | None, limits: Limits) -> None:
        self._db = db
        self._outbox = outbox
        self._limits = limits
        self._refused_until: dict[Subject, float] = {}

    def _window(self, now: float) -> tuple[int, int]:
        start = int(now) - int(now) % self._limits.window_seconds
        return start, start + self._limits.window_seconds

    def _limit(self, subject: Subject) -> int:
        if subject.scope == "address":
            return self._limits.per_address
        return self._limits.per_subject

    def refused(self, *subjects: Subject) -> int | None:
        """Seconds to wait if this replica already saw one of `subjects` refused."""
        now = time.time()
        waits = [until - now for s in subjects if (until := self._refused_until.get(s, 0)) > now]
        return int(max(waits)) + 1 if waits else None

    async def failed(self, *subjects: Subject, client: str | None = None) -> None:
        """Count one failure of each subject; `TooManyFailures` when one is over its limit."""
        memo = self.refused(*subjects)
        if memo is not None:
            raise TooManyFailures(memo)
        now = time.time()
        start, end = self._window(now)
        over: list[tuple[Subject, int]] = []
        for subject in subjects:
            count = await self._count(subject, start, end)
            if count > self._limit(subject):
                over.append((subject, count))
        if not over:
            return
        if len(self._refused_until) > MEMO_LIMIT:
            self._refused_until.clear()
        for subject, count in over:
            self._refused_until[subject] = end
            if count == self._limit(subject) + 1:
                await self._burst(subject, client)
        raise TooManyFailures(max(1, int(end - now)))

    async def _count(self, subject: Subject, start: int, end: int) -> int:
        doc_id = f"{subject.scope}:{subject.value}:{start}"
        update = {
            "$inc": {"count": 1},
            "$setOnInsert": {
                "scope": subject.scope,
                "window_start": datetime.fromtimestamp(start, UTC),
                "window_end": datetime.fromtimestamp(end, UTC),
            },
        }
        for _ in range(3):
            try:
                await self._db.auth_failures.update_one({"_id": doc_id}, update, upsert=True)
                break
            except Exception as exc:  # two replicas inserting the window's first failure
                if not is_duplicate_key(exc):
                    raise
        doc = await self._db.auth_failures.find_one({"_id": doc_id}, {"count": 1})
        return int(doc["count"]) if doc else 1

    async def _burst(self, subject: Subject, client: str | None) -> None:
        if self._outbox is None:
            return
        from secmonkey.api.audit.trail import Actor, Trail

        actor = Actor(kind="anonymous", id=subject.shown, name=subject.shown)
        trail = Trail(self._db, self._outbox, actor, client, "api")
        try:
            await trail.record(
                "auth.failures_burst",
                subject.shown,
                severity=Severity.MEDIUM,
                detail=f"more than {self._limit(subject)} failed sign-ins of {subject.shown} "
                f"within {self._limits.window_seconds} s; further attempts answered 429",
            )
        except Exception:
            log.exception("recording a burst of failed sign-ins failed")

    async def expire(self) -> int:
        """Delete the windows that ended (TTL indexes are outside the query subset)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._limits.window_seconds)
        result = await self._db.auth_failures.delete_many({"window_end": {"$lt": cutoff}})
        return result.deleted_count
