"""Events of the change and issue feed, with ids derived from what they describe.

An event id is a hash of (what, which version, which transition), so processing the same
observation again (a redelivery after a crash) produces the very same ids, and the
unique `event_id` in `events` keeps each event exactly once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from secmonkey.common.messages import Caller, Event, EventType, IssueRef


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def group_event_id(key: str, seq: int, event_type: str) -> str:
    return _hash("group", key, str(seq), event_type)


def issue_event_id(issue_id: str, event_type: str, marker: str) -> str:
    return _hash("issue", issue_id, event_type, marker)


def make_event(
    event_type: EventType,
    event_id: str,
    *,
    item: dict[str, Any],
    at: datetime,
    seq: int | None,
    changes: list[str] | None = None,
    issue: IssueRef | None = None,
    callers: list[Caller] | None = None,
) -> Event:
    """An event about the group described by `item` (an `items` document or its new state)."""
    return Event(
        event_id=event_id,
        type=event_type,
        key=item["_id"],
        account_id=item["account_id"],
        account_name=item.get("account_name"),
        region=item["region"],
        vpc_id=item.get("vpc_id"),
        group_id=item["group_id"],
        name=item["name"],
        at=at,
        seq=seq,
        changes=changes or [],
        issue=issue,
        callers=callers or [],
    )
