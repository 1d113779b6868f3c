"""Indexes are what make reads fast and writes idempotent; check them on the real server."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from secmonkey.common import mongo
from secmonkey.common.mongo import Database

pytestmark = pytest.mark.integration


async def test_indexes_are_created_idempotently(db: Database) -> None:
    await mongo.ensure_indexes(db)  # second time: no error
    info = await db.revisions.index_information()
    keys = {tuple(k for k, _ in v["key"]): v.get("unique", False) for v in info.values()}
    assert keys[("key", "seq")] is True
    assert keys[("key", "fingerprint", "observed_at")] is True
    events = await db.events.index_information()
    assert any(v.get("unique") and v["key"] == [("event_id", 1)] for v in events.values())


async def test_duplicate_key_on_a_unique_index_is_refused(db: Database) -> None:
    await db.revisions.insert_one(
        {"key": "aws:1:r:sg-1", "seq": 1, "fingerprint": "a", "observed_at": 1}
    )
    with pytest.raises(DuplicateKeyError):
        await db.revisions.insert_one(
            {"key": "aws:1:r:sg-1", "seq": 1, "fingerprint": "b", "observed_at": 2}
        )
    assert await db.revisions.count_documents({}) == 1


async def test_retry_gives_up_only_when_told(db: Database) -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise mongo.AutoReconnect("blip")
        return calls

    assert await mongo.with_retry(flaky, what="test", base_delay=0.01) == 3
