"""`/exposure`: every endpoint the internet can reach, and through which rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.exposure import find_exposure
from secmonkey.api.routes._params import AccountFilter, Cursor, GroupFilter, Limit, RegionFilter
from secmonkey.api.schemas.exposure import ExposurePage
from secmonkey.common.topology import ResourceType

router = APIRouter(
    prefix="/exposure", tags=["exposure"], responses=problem_responses(401, 403, 422)
)


@router.get("", response_model=ExposurePage, summary="Internet-reachable endpoints")
async def list_exposure(
    db: Db,
    _: Viewer,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    port: Annotated[
        int | None, Query(ge=0, le=65535, description="only endpoints reachable on this port")
    ] = None,
    resource_type: Annotated[
        ResourceType | None, Query(description="instance, interface or load_balancer")
    ] = None,
    group_id: GroupFilter = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ExposurePage:
    """Each instance, interface or load balancer with a public address that the internet
    reaches through a rule (routes, gateways and network ACLs considered), as of the
    latest sweep."""
    return await find_exposure(
        db,
        account_id=account_id,
        region=region,
        port=port,
        resource_type=resource_type,
        group_id=group_id,
        limit=limit,
        cursor=cursor,
    )
