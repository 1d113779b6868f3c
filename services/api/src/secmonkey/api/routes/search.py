"""`/search`: which rules let an address or a network in (or out)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from secmonkey.api.deps import CapabilitiesDep, Db, SettingsDep, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries.search import search_json
from secmonkey.api.routes._params import AccountFilter, Cursor, RegionFilter
from secmonkey.api.schemas.search import SearchResult
from secmonkey.common.cidr import MatchMode, parse_address, parse_network

router = APIRouter(prefix="/search", tags=["search"], responses=problem_responses(401, 403, 422))

SearchLimit = Annotated[
    int, Query(ge=1, le=10_000, description="rules per page (a page ends at a group boundary)")
]
DirectionFilter = Annotated[
    Literal["ingress", "egress"] | None, Query(description="only rules of this direction")
]


def _answer(body: str) -> Response:
    """The result as `search_json` serialised it. A page holds up to 10,000 rules, and
    FastAPI would otherwise dump, re-validate and re-encode it (~50 ms per 1,000 rules);
    the OpenAPI schema still comes from `response_model`."""
    return Response(body, media_type="application/json")


@router.get("/ip", response_model=SearchResult, summary="Rules whose range contains an address")
async def search_ip(
    db: Db,
    capabilities: CapabilitiesDep,
    settings: SettingsDep,
    _: Viewer,
    ip: Annotated[str, Query(max_length=64, description="an IPv4 or IPv6 address")],
    direction: DirectionFilter = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    limit: SearchLimit = 1000,
    cursor: Cursor = None,
) -> Response:
    address = parse_address(ip)
    result = await search_json(
        db,
        capabilities,
        parse_network(str(address)),
        "contains",
        searched=str(address),
        direction=direction,
        account_id=account_id,
        region=region,
        cursor=cursor,
        limit=limit,
        max_scanned=settings.search_scan_limit,
    )
    return _answer(result)


@router.get("/cidr", response_model=SearchResult, summary="Rules whose range matches a network")
async def search_cidr(
    db: Db,
    capabilities: CapabilitiesDep,
    settings: SettingsDep,
    _: Viewer,
    cidr: Annotated[str, Query(max_length=64, description="e.g. 10.0.0.0/8 or 2001:db8::/32")],
    match: Annotated[
        MatchMode,
        Query(
            description="exact: the same network; contains: rules covering it; "
            "within: rules inside it; overlaps: either"
        ),
    ] = "contains",
    direction: DirectionFilter = None,
    account_id: AccountFilter = None,
    region: RegionFilter = None,
    limit: SearchLimit = 1000,
    cursor: Cursor = None,
) -> Response:
    network = parse_network(cidr)
    result = await search_json(
        db,
        capabilities,
        network,
        match,
        searched=str(network),
        direction=direction,
        account_id=account_id,
        region=region,
        cursor=cursor,
        limit=limit,
        max_scanned=settings.search_scan_limit,
    )
    return _answer(result)
