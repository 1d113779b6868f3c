"""Missed events: a change a sweep found with no CloudTrail call behind it is counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from secmonkey.collector.events import metrics
from secmonkey.collector.events.marks import MARKS
from secmonkey.collector.events.missed import CURSOR_ID, MissedEventCheck
from secmonkey.common.messages import Caller, Event, item_key, new_id, utcnow
from secmonkey.common.mongo import Database

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "111122223333", "us-east-1"


def change(group_id: str, seq: int, at_offset: float, callers: list[Caller] | None = None) -> dict:
    event = Event(
        event_id=new_id(),
        type="group.changed",
        key=item_key(ACCOUNT, REGION, group_id),
        account_id=ACCOUNT,
        region=REGION,
        group_id=group_id,
        name=group_id,
        at=utcnow() + timedelta(seconds=at_offset),
        seq=seq,
        changes=["+ ingress tcp/22 from 0.0.0.0/0"],
        callers=callers or [],
    )
    doc = event.model_dump(mode="python")
    doc["_id"] = doc["event_id"]
    return doc


async def test_only_unexplained_sweep_changes_count_as_missed(db: Database) -> None:
    now = utcnow()
    check = MissedEventCheck(db, "test-replica", interval=3600, grace=timedelta(0))
    assert await check.once() == 0  # the first run only sets the cursor
    before = metrics.MISSED_EVENTS._value.get()

    caller = Caller(event_id="e1", event_name="AuthorizeSecurityGroupIngress", at=now)
    # 1. recorded by an event snapshot: it carries its caller.
    by_event = change("sg-0000000000000000a", 2, 2.1, [caller])
    # 2. found by a sweep, but its CloudTrail call arrived after the previous version.
    raced = change("sg-0000000000000000b", 2, 2.2)
    # 3. found by a sweep, no call since the previous version: missed.
    missed = change("sg-0000000000000000c", 2, 2.3)
    # 4. found by a sweep, the last call predates the previous version: missed too.
    stale = change("sg-0000000000000000d", 3, 2.4)
    for doc in (raced, missed, stale):
        seq = doc["seq"]
        await db.revisions.insert_one(
            {
                "_id": f"{doc['key']}:{seq - 1}",
                "key": doc["key"],
                "seq": seq - 1,
                "observed_at": now - timedelta(minutes=30),
            }
        )
    await db[MARKS].insert_one(
        {"_id": raced["key"], "last_event_at": now - timedelta(minutes=1), "received_at": now}
    )
    await db[MARKS].insert_one(
        {"_id": stale["key"], "last_event_at": now - timedelta(hours=2), "received_at": now}
    )
    await db.events.insert_many([by_event, raced, missed, stale])
    check.grace = timedelta(seconds=-10)  # judge up to a few seconds ahead
    assert await check.once() == 2
    assert metrics.MISSED_EVENTS._value.get() - before == 2
    # The cursor moved on: the same changes are not counted twice.
    assert await check.once() == 0
    lease = await db.leases.find_one({"_id": CURSOR_ID})
    assert lease is not None and lease["cursor"] >= missed["at"]
