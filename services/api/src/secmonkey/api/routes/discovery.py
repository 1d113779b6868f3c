"""`/accounts/discover`: ask the collector to enrol the AWS organization's accounts now
(admin); it answers within seconds on the request (see the collector's README)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Admin, Db
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.discovery import DiscoveryView
from secmonkey.common import discovery_requests
from secmonkey.common.errors import NotFound

router = APIRouter(
    prefix="/accounts/discover", tags=["accounts"], responses=problem_responses(401, 403, 422)
)
PREFIX = "/api/v1"
RequestPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="the request's ID")]


@router.post(
    "", response_model=DiscoveryView, status_code=202, summary="Enrol the organization's accounts"
)
async def request_discovery(trail: AdminTrail) -> DiscoveryView:
    request = await discovery_requests.request_discovery(trail.db, f"api:{trail.actor.name}")
    view = DiscoveryView.of(request, PREFIX)
    await trail.record("account.discovery_requested", "the organization", after=view)
    return view


@router.get(
    "/{request_id}",
    response_model=DiscoveryView,
    summary="A discovery request and what it did",
    responses=problem_responses(404),
)
async def get_discovery(db: Db, _: Admin, request_id: RequestPath) -> DiscoveryView:
    request = await discovery_requests.get_request(db, request_id)
    if request is None:
        raise NotFound(f"no discovery request {request_id}")
    return DiscoveryView.of(request, PREFIX)
