"""A group's history: its revisions by number, the state at an instant, the change between two.

Revisions are stored under `_id = "<key>:<seq>"` and their `observed_at` grows with
`seq` (the auditor never rewrites history with an older observation), so the revision
in force at an instant is found by a binary search of primary-key lookups: a handful of
the cheapest reads any MongoDB-protocol server serves, whatever the history's length.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.queries.groups import find_item
from secmonkey.api.schemas.groups import (
    DiffEnd,
    GroupAt,
    GroupDiff,
    RevisionDetail,
    RevisionPage,
    RevisionSummary,
    RuleView,
)
from secmonkey.common.changes import change_list, json_diff
from secmonkey.common.dates import aware
from secmonkey.common.documents import Revision
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database, Document, Store


class _SeqCursor(BaseModel):
    s: int


PREFETCH = 16  # revisions read in one batch by `Revisions.prefetch`


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

    async def prefetch(self, most: int = PREFETCH) -> None:
        """Read every revision in one batch when there are at most `most` (most groups
        change rarely): a search through them then costs no more reads."""
        if 1 <= self.latest <= most:
            self.remember(await first_revisions(self.db, self.key, self.latest))

    def remember(self, docs: dict[str, Document]) -> None:
        """Keep revisions already read (`first_revisions`); any other is read when asked."""
        for seq in range(1, self.latest + 1):
            doc = docs.get(f"{self.key}:{seq}")
            if doc is not None and seq not in self._seen:
                self._seen[seq] = Revision.model_validate(doc)

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


async def first_revisions(db: Database, key: str, most: int = PREFETCH) -> dict[str, Document]:
    """The revisions 1 to `most` of an item that exist, in one batch read, by `_id`."""
    return await Store(db).read("revisions", [f"{key}:{seq}" for seq in range(1, most + 1)])


Point = int | datetime


def parse_point(text: str, name: str) -> Point:
    """A revision number (`3`) or an ISO 8601 instant (`2026-05-01T12:00:00Z`)."""
    value = text.strip()
    if value.isascii() and value.isdigit():  # `²` is a digit to str.isdigit, not to int
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


async def revision_page(
    db: Database,
    group_id: str,
    account_id: str | None = None,
    region: str | None = None,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> RevisionPage:
    """A group's revisions, newest first."""
    item = await find_item(db, group_id, account_id, region, {"seq": 1, "group_id": 1})
    position = decode_cursor(cursor, _SeqCursor)
    query: dict[str, Any] = {"key": item["_id"]}
    if position is not None:
        query["seq"] = {"$lt": position.s}
    projection = {"config": 0, "attachments": 0, "diff": 0}
    docs = await db.revisions.find(query, projection).sort("seq", -1).limit(limit).to_list()
    items = [RevisionSummary.model_validate(d) for d in docs]
    more = len(items) == limit and items[-1].seq > 1
    return RevisionPage(
        key=item["_id"],
        group_id=group_id,
        items=items,
        next_cursor=encode_cursor(_SeqCursor(s=items[-1].seq)) if more else None,
    )


async def revision_detail(
    db: Database,
    group_id: str,
    seq: int,
    account_id: str | None = None,
    region: str | None = None,
) -> RevisionDetail:
    item = await find_item(db, group_id, account_id, region, {"seq": 1})
    revision = await Revisions(db, item["_id"], item["seq"]).get(seq)
    return RevisionDetail(
        **RevisionSummary.fields_of(revision),
        key=revision.key,
        group_id=revision.group_id,
        config=revision.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(revision.config.rules)],
        attachments=revision.attachments,
        diff=json.loads(revision.diff) if revision.diff else None,
    )


async def state_at(
    db: Database,
    group_id: str,
    time: datetime,
    account_id: str | None = None,
    region: str | None = None,
) -> GroupAt:
    """The configuration in force at `time`; `NotFound` if the group did not exist then."""
    instant = aware(time)
    if account_id and region:  # the key is known: its first revisions are read meanwhile
        key = item_key(account_id, region, group_id)
        item, early = await asyncio.gather(
            find_item(db, group_id, account_id, region, {"seq": 1}), first_revisions(db, key)
        )
        revisions = Revisions(db, item["_id"], item["seq"])
        revisions.remember(early)
    else:
        item = await find_item(db, group_id, account_id, region, {"seq": 1})
        revisions = Revisions(db, item["_id"], item["seq"])
        await revisions.prefetch()
    revision = await revisions.at(instant)
    if revision is None:
        first = await revisions.get(1) if item["seq"] >= 1 else None
        since = f"; first seen {first.observed_at.isoformat()}" if first else ""
        raise NotFound(f"{group_id} did not exist yet at {instant.isoformat()}{since}")
    if revision.change_type == "deleted":
        raise NotFound(
            f"{group_id} did not exist at {instant.isoformat()}: "
            f"deleted at {revision.observed_at.isoformat()} (revision {revision.seq})"
        )
    following = await revisions.after(revision)
    return GroupAt(
        key=revision.key,
        group_id=revision.group_id,
        at=instant,
        seq=revision.seq,
        change_type=revision.change_type,
        fingerprint=revision.fingerprint,
        observed_at=revision.observed_at,
        valid_until=following.observed_at if following else None,
        config=revision.config,
        rules=[RuleView.of(n, r) for n, r in enumerate(revision.config.rules)],
        attachments=revision.attachments,
    )


@dataclass(frozen=True)
class Comparison:
    """Two revisions of a group and what differs between them."""

    old: Revision
    new: Revision
    diff: GroupDiff


async def compare(
    db: Database,
    group_id: str,
    from_: str,
    to: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
) -> Comparison:
    """The revisions at `from_` and `to` (each a revision number or an instant; `to`: now)."""
    start = parse_point(from_, "from")
    end = parse_point(to, "to") if to is not None else datetime.now(UTC)
    if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
        raise InvalidInput(f"from ({start.isoformat()}) is after to ({end.isoformat()})")
    if isinstance(start, int) and isinstance(end, int) and start > end:
        raise InvalidInput(f"from (revision {start}) is after to (revision {end})")
    item = await find_item(db, group_id, account_id, region, {"seq": 1})
    revisions = Revisions(db, item["_id"], item["seq"])
    old = await resolve_point(revisions, start, "from", group_id)
    new = await resolve_point(revisions, end, "to", group_id)
    if old.seq > new.seq:
        raise InvalidInput(
            f"from (revision {old.seq}, {old.observed_at.isoformat()}) is after "
            f"to (revision {new.seq}, {new.observed_at.isoformat()})"
        )
    changes = change_list(old.config, new.config)
    if new.seq > old.seq and new.change_type in ("deleted", "restored"):
        changes.append(f"group {new.change_type} at {new.observed_at.isoformat()}")
    diff = GroupDiff(
        key=item["_id"],
        group_id=group_id,
        **{"from": _end(old)},
        to=_end(new),
        changes=changes,
        diff=json_diff(old.config, new.config),
    )
    return Comparison(old=old, new=new, diff=diff)


async def diff_between(
    db: Database,
    group_id: str,
    from_: str,
    to: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
) -> GroupDiff:
    """What changed from `from_` to `to`: the change list and the jsondiff."""
    return (await compare(db, group_id, from_, to, account_id, region)).diff


def _end(revision: Revision) -> DiffEnd:
    return DiffEnd(
        seq=revision.seq,
        change_type=revision.change_type,
        observed_at=revision.observed_at,
        fingerprint=revision.fingerprint,
    )
