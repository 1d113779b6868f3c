"""`/events`: the change and issue feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.events import event_of
from secmonkey.api.history import aware
from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.problems import problem_responses
from secmonkey.api.routes._params import (
    GROUP_ID_PATTERN,
    AccountFilter,
    Cursor,
    Limit,
    RegionFilter,
)
from secmonkey.api.schemas.issues import EventPage
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import EventType

router = APIRouter(prefix="/events", tags=["events"], responses=problem_responses(401, 403, 422))


class _EventCursor(BaseModel):
    a: datetime
    e: str


@router.get("", response_model=EventPage, summary="The change and issue feed")
async def list_events(
    db: Db,
    _: Viewer,
    type: Annotated[list[EventType] | None, Query(description="repeat for several types")] = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    group_id: Annotated[str | None, Query(pattern=GROUP_ID_PATTERN)] = None,
    since: Annotated[datetime | None, Query(description="only events after this instant")] = None,
    until: Annotated[datetime | None, Query(description="only events at or before this")] = None,
    order: Literal["desc", "asc"] = "desc",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EventPage:
    query: dict[str, Any] = {}
    if type:
        query["type"] = type[0] if len(type) == 1 else {"$in": sorted(set(type))}
    for field, value in (("account_id", account_id), ("region", region), ("group_id", group_id)):
        if value:
            query[field] = value
    bounds: dict[str, datetime] = {}
    if since is not None:
        bounds["$gt"] = aware(since)
    if until is not None:
        bounds["$lte"] = aware(until)
    if since is not None and until is not None and aware(since) > aware(until):
        raise InvalidInput("since is after until")
    if bounds:
        query["at"] = bounds
    position = decode_cursor(cursor, _EventCursor)
    direction = -1 if order == "desc" else 1
    if position is not None:
        beyond = "$lt" if direction == -1 else "$gt"
        query["$or"] = [
            {"at": {beyond: aware(position.a)}},
            {"at": aware(position.a), "event_id": {beyond: position.e}},
        ]
    docs = (
        await db.events.find(query)
        .sort([("at", direction), ("event_id", direction)])
        .limit(limit)
        .to_list()
    )
    items = [event_of(d) for d in docs]
    next_cursor = None
    if len(items) == limit:
        next_cursor = encode_cursor(_EventCursor(a=items[-1].at, e=items[-1].event_id))
    return EventPage(items=items, next_cursor=next_cursor)
