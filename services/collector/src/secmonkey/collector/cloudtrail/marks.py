"""`event_marks`: per group, the latest CloudTrail call seen on it (one document per item key).

The missed-event check reads it to tell a change a sweep found because no event came
from one whose event merely arrived after the sweep (one `_id` lookup, no extra index).
"""

from __future__ import annotations

from datetime import datetime

from pymongo import UpdateOne

from secmonkey.collector.cloudtrail.describe import Described
from secmonkey.collector.cloudtrail.window import Window
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database

MARKS = "event_marks"


async def record_marks(db: Database, window: Window, described: Described) -> None:
    """Remember, for every group the window's calls touched, the newest call's time."""
    now = utcnow()
    newest: dict[str, tuple[datetime, str]] = {}
    for group_id in [*described.groups, *described.missing]:
        snapshot = described.groups.get(group_id)
        callers = window.callers_of(group_id, snapshot.config.name if snapshot else None)
        if not callers and group_id in described.missing:
            callers = [c for d in window.deleted_names.values() for c in d.values()]
        timed = [c for c in callers if c.at is not None]
        if timed:
            at, event_id = max((c.at, c.event_id) for c in timed if c.at is not None)
            newest[group_id] = (at, event_id)
    operations = [
        UpdateOne(
            {"_id": item_key(window.account_id, window.region, group_id)},
            {
                "$max": {"last_event_at": at},
                "$set": {"last_event_id": event_id, "received_at": now},
            },
            upsert=True,
        )
        for group_id, (at, event_id) in newest.items()
    ]
    if operations:
        await db[MARKS].bulk_write(operations, ordered=False)
