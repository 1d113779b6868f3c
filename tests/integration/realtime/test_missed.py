"""Missed events: a change a sweep found with no CloudTrail call behind it is counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from secmonkey.collector.cloudtrail import metrics
from secmonkey.collector.cloudtrail.marks import MARKS
from secmonkey.collector.cloudtrail.missed import CURSOR_ID, MissedEventCheck
from secmonkey.collector.settings import Settings
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import Caller, Event, new_id, utcnow
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink, ask_sweep, running, sweeps_api
from tests.integration.realtime.conftest import Estate, Queues, eventually, wait_history

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


async def test_a_change_only_a_sweep_found_is_a_missed_event(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    told, untold = estate.create_group("told"), estate.create_group("untold")
    check = MissedEventCheck(db, "test-replica", interval=3600, grace=timedelta(0))
    async with running(settings), sweeps_api(settings) as api:
        await ask_sweep(api, [estate.account_id])
        await wait_history(db, estate.account_id, told, 1)
        await wait_history(db, estate.account_id, untold, 1)
        await check.once()  # from here on

        ssh = [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ]
        estate.ec2.authorize_security_group_ingress(GroupId=told, IpPermissions=ssh)
        queues.send(estate.event("AuthorizeSecurityGroupIngress", told))
        await wait_history(db, estate.account_id, told, 2)
        # A change whose event never came (a region that does not forward, say).
        estate.ec2.authorize_security_group_ingress(GroupId=untold, IpPermissions=ssh)
        await ask_sweep(api, [estate.account_id])
        revisions = await wait_history(db, estate.account_id, untold, 2)
        assert revisions[1]["callers"] == []
        await eventually(
            lambda: db.events.count_documents({"type": "group.changed", "group_id": untold}),
            what="the sweep's group.changed event",
        )
    before = metrics.MISSED_EVENTS._value.get()
    check.grace = timedelta(seconds=-10)
    assert await check.once() == 1
    assert metrics.MISSED_EVENTS._value.get() - before == 1
