"""Finding a group and walking its revisions: by number, at an instant, between two points.

A group is found by its item key (`_id`), or by its ID alone through `group_ids`.
Revisions are stored under `_id = "<key>:<seq>"` and their `observed_at` grows with
`seq` (the auditor never rewrites history with an older observation), so the revision
in force at an instant is found by a binary search of primary-key lookups: a handful of
the cheapest reads any MongoDB-protocol server serves, whatever the history's length.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from secmonkey.api.problems import Problem
from secmonkey.common.dates import aware
from secmonkey.common.documents import Item, Revision
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import item_key
from secmonkey.common.search_index.reader import seen_as
from secmonkey.common.storage import Database

MAX_CANDIDATES = 10


def _where(account_id: str | None, region: str | None) -> str:
    parts = [f"account {account_id}" if account_id else "", f"region {region}" if region else ""]
    text = " and ".join(p for p in parts if p)
    return f" in {text}" if text else ""


async def find_item(
    db: Database,
    group_id: str,
    account_id: str | None = None,
    region: str | None = None,
    projection: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one item of `group_id` (narrowed by account and region); 404 or 409 otherwise."""
    if account_id and region:
        keys = [item_key(account_id, region, group_id)]
    else:
        keys = [
            k
            for k in sorted(await seen_as(db, group_id))
            if k.split(":")[1] == (account_id or k.split(":")[1])
            and k.split(":")[2] == (region or k.split(":")[2])
        ][:MAX_CANDIDATES]
    found = await asyncio.gather(*(db.items.find_one({"_id": k}, projection) for k in keys))
    docs = [doc for doc in found if doc is not None]
    if not docs:
        raise NotFound(f"no security group {group_id} is known{_where(account_id, region)}")
    if len(docs) > 1:
        places = ", ".join(f"{d['account_id']}/{d['region']}" for d in docs)
        raise Problem(
            409,
            f"{group_id} was seen in several places ({places}); "
            "pass account_id and region to choose one",
            kind="ambiguous-group",
            extra={"candidates": [d["_id"] for d in docs]},
        )
    return docs[0]


async def load_item(
    db: Database, group_id: str, account_id: str | None, region: str | None
) -> Item:
    return Item.model_validate(await find_item(db, group_id, account_id, region))


@dataclass
class Revisions:
    """Revision lookups of one item, remembering what it already read."""

    db: Database
    key: str
    latest: int

    def __post_init__(self) -> None:
        self._seen: dict[int, Revision] = {}

    async def get(self, seq: int) -> Revision:
        if seq < 1 or seq > self.latest:
            raise NotFound(
                f"revision {seq} does not exist; this group has revisions 1 to {self.latest}"
            )
        if seq not in self._seen:
            doc = await self.db.revisions.find_one({"_id": f"{self.key}:{seq}"})
            if doc is None:
                raise NotFound(f"revision {seq} of {self.key} is missing from the history")
            self._seen[seq] = Revision.model_validate(doc)
        return self._seen[seq]

    async def at(self, instant: datetime) -> Revision | None:
        """The last revision observed at or before `instant`, or None if there was none yet."""
        instant = aware(instant)
        if self.latest < 1:
            return None
        newest = await self.get(self.latest)
        if newest.observed_at <= instant:
            return newest
        low, high, found = 1, self.latest - 1, None
        while low <= high:
            middle = (low + high) // 2
            revision = await self.get(middle)
            if revision.observed_at <= instant:
                found, low = revision, middle + 1
            else:
                high = middle - 1
        return found

    async def after(self, revision: Revision) -> Revision | None:
        return await self.get(revision.seq + 1) if revision.seq < self.latest else None


Point = int | datetime


def parse_point(text: str, name: str) -> Point:
    """A revision number (`3`) or an ISO 8601 instant (`2026-05-01T12:00:00Z`)."""
    value = text.strip()
    if value.isdigit():
        number = int(value)
        if number < 1 or number > 2**31:
            raise InvalidInput(f"{name}: revision numbers start at 1, got {value}")
        return number
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name}: {text!r} is neither a revision number nor an ISO 8601 instant"
        ) from None
    return aware(parsed)


async def resolve_point(revisions: Revisions, point: Point, name: str, group_id: str) -> Revision:
    if isinstance(point, int):
        return await revisions.get(point)
    revision = await revisions.at(point)
    if revision is None:
        raise NotFound(f"{group_id} did not exist yet at {point.isoformat()} ({name})")
    return revision
