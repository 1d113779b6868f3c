"""`/groups/{id}/usage`: each ingress rule's use, from VPC flow logs."""

from __future__ import annotations

from fastapi import APIRouter

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.usage import group_usage
from secmonkey.api.routes._params import AccountFilter, GroupId, RegionFilter
from secmonkey.api.schemas.usage import GroupUsage

router = APIRouter(prefix="/groups", tags=["groups"], responses=problem_responses(401, 403, 422))


@router.get(
    "/{group_id}/usage",
    response_model=GroupUsage,
    summary="Each rule's use from VPC flow logs",
    responses=problem_responses(404, 409),
)
async def get_usage(
    db: Db,
    _: Viewer,
    group_id: GroupId,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
) -> GroupUsage:
    """Per ingress rule: `used`, `unused` (no flow for 30 days while every interface of the
    group was logged) or `unknown`; last use, hits per day over 90 days, distinct sources
    (exact up to 100 per rule, else a HyperLogLog estimate: `approximate`), top sources."""
    return await group_usage(db, group_id, account_id, region)
