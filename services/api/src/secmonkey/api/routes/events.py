"""`/events`: the change and issue feed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.events import find_events
from secmonkey.api.routes._params import AccountFilter, Cursor, GroupFilter, Limit, RegionFilter
from secmonkey.api.schemas.issues import EventPage
from secmonkey.common.messages import EventType

router = APIRouter(prefix="/events", tags=["events"], responses=problem_responses(401, 403, 422))


@router.get("", response_model=EventPage, summary="The change and issue feed")
async def list_events(
    db: Db,
    _: Viewer,
    type: Annotated[list[EventType] | None, Query(description="repeat for several types")] = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    group_id: GroupFilter = None,
    since: Annotated[datetime | None, Query(description="only events after this instant")] = None,
    until: Annotated[datetime | None, Query(description="only events at or before this")] = None,
    order: Literal["desc", "asc"] = "desc",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> EventPage:
    return await find_events(
        db,
        types=type,
        account_id=account_id,
        region=region,
        group_id=group_id,
        since=since,
        until=until,
        order=order,
        limit=limit,
        cursor=cursor,
    )
