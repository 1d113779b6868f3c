"""A time-limited lease that at most one replica holds (the collector's scheduler in
`leases`, the auditor's partitions and maintenance in `auditor_leases`).

Each holder's term is its own document, `<name>:<generation>`. Taking the lease over is
the insert of the next generation: the unique `_id` lets exactly one of two racing
replicas win. (A conditional `findOneAndUpdate` would do on MongoDB, but FerretDB 1.24
does not isolate conditional updates: two of them racing on one document can both
succeed.) Renewing only ever writes the holder's own generation, which no one else
writes. A holder that finds a newer generation than its own steps down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pymongo import DESCENDING

from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database, insert_unique

log = logging.getLogger(__name__)

KEEP_GENERATIONS = 10


class Lease:
    """Take, renew and release one named lease; `held` says whether it is ours right now."""

    def __init__(
        self, db: Database, name: str, holder: str, seconds: float, collection: str = "leases"
    ) -> None:
        self.db = db
        self.leases = db[collection]
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self._generation = 0
        self._valid_until = 0.0

    @property
    def held(self) -> bool:
        """Whether this process may act as holder now (judged on its own monotonic clock)."""
        return time.monotonic() < self._valid_until

    async def current(self) -> dict[str, Any] | None:
        """The latest term: holder, generation, acquired_at, expires_at."""
        return await self.leases.find_one({"lease": self.name}, sort=[("generation", DESCENDING)])

    async def acquire(self) -> bool:
        """Renew our term, or start the next one if the latest has expired; True if ours."""
        asked = time.monotonic()
        now = utcnow()
        latest = await self.current()
        expires_at = now + timedelta(seconds=self.seconds)
        ours = (
            latest is not None
            and latest["holder"] == self.holder
            and latest["generation"] == self._generation
        )
        if latest is not None and latest["expires_at"] > now:
            if not ours:
                self._step_down()
                return False
            await self.leases.update_one(
                {"_id": latest["_id"], "holder": self.holder},
                {"$set": {"expires_at": expires_at, "renewed_at": now}},
            )
            # Counted from before the request left, so a slow answer only shortens our term.
            self._valid_until = asked + self.seconds
            return True
        generation = (latest["generation"] if latest else 0) + 1
        taken = await insert_unique(
            self.leases,
            {
                "_id": f"{self.name}:{generation:012d}",
                "lease": self.name,
                "generation": generation,
                "holder": self.holder,
                "previous_holder": latest["holder"] if latest else None,
                "acquired_at": now,
                "renewed_at": now,
                "expires_at": expires_at,
            },
        )
        if not taken:
            self._step_down()  # another replica started this generation first
            return False
        self._generation = generation
        self._valid_until = asked + self.seconds
        log.info(
            "took the %s lease, generation %d (previous holder: %s)",
            self.name,
            generation,
            latest["holder"] if latest else None,
        )
        await self.leases.delete_many(
            {"lease": self.name, "generation": {"$lte": generation - KEEP_GENERATIONS}}
        )
        return True

    async def renew(self) -> bool:
        """Extend our term with one write, while it has not ended; False (stepped down) if
        it had, or if the lease is not ours. No one else writes our term's document, and
        no one takes the lease over before that term ends, so the write alone decides."""
        if not self._generation:
            return False
        asked = time.monotonic()
        now = utcnow()
        done = await self.leases.update_one(
            {
                "_id": self.term_id,
                "holder": self.holder,
                "expires_at": {"$gt": now},
            },
            {"$set": {"expires_at": now + timedelta(seconds=self.seconds), "renewed_at": now}},
        )
        if done.matched_count != 1:
            self._step_down()
            return False
        return await self._renewed(asked)

    @property
    def term_id(self) -> str | None:
        """Our term's document `_id`, while we have one."""
        return f"{self.name}:{self._generation:012d}" if self._generation else None

    async def _renewed(self, asked: float) -> bool:
        """After our term's document was extended by a request sent at `asked`."""
        if time.monotonic() >= self._valid_until:
            # The answer came after our previous term ended on our clock: another replica
            # may have started the next generation meanwhile. Ours only if it has not.
            latest = await self.current()
            if latest is None or latest["generation"] != self._generation:
                self._step_down()
                return False
        self._valid_until = asked + self.seconds
        return True

    def _step_down(self) -> None:
        if self._valid_until:
            log.info("no longer hold the %s lease", self.name)
        self._valid_until = 0.0
        self._generation = 0

    async def release(self) -> None:
        """Let the lease go at once (a graceful stop hands over without waiting)."""
        generation, self._generation, self._valid_until = self._generation, 0, 0.0
        if generation:
            await self.leases.update_one(
                {"_id": f"{self.name}:{generation:012d}", "holder": self.holder},
                {"$set": {"expires_at": utcnow()}},
            )


async def renew_all(leases: Sequence[Lease]) -> list[bool]:
    """`renew` each of these leases (one holder's, in one collection, of one length) with
    one write for all: an `update_many` of their terms by `_id` (on FerretDB one command and
    one transaction instead of one each; it evaluates `$in` by a scan, which a lease
    collection, a few documents per lease, keeps cheap). If the write did not extend every
    term, each is renewed on its own to learn which ended."""
    if not leases:
        return []
    first = leases[0]
    if any(
        (lease.leases.full_name, lease.holder, lease.seconds)
        != (first.leases.full_name, first.holder, first.seconds)
        for lease in leases
    ):
        raise ValueError("renew_all: leases of one holder, collection and length only")
    held = [lease for lease in leases if lease.term_id is not None]  # (others: False)
    if not held:
        return [False] * len(leases)
    asked = time.monotonic()
    now = utcnow()
    done = await first.leases.update_many(
        {
            "_id": {"$in": [lease.term_id for lease in held]},
            "holder": first.holder,
            "expires_at": {"$gt": now},
        },
        {"$set": {"expires_at": now + timedelta(seconds=first.seconds), "renewed_at": now}},
    )
    if done.matched_count != len(held):
        return [await lease.renew() for lease in leases]
    return [await lease._renewed(asked) if lease in held else False for lease in leases]
