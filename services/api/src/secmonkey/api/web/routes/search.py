"""Search: rules by IP address or CIDR (four match modes), groups by ID across accounts."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from secmonkey.api.deps import CapabilitiesDep, Db
from secmonkey.api.queries.groups import resolve_groups
from secmonkey.api.queries.search import SearchPage, search_rules
from secmonkey.api.schemas.groups import ResolveResponse
from secmonkey.api.web.deps import Blank, OptAccount, OptRegion, OptText, Viewer, at_most
from secmonkey.api.web.rendering import render
from secmonkey.common.cidr import MatchMode, parse_address, parse_network

router = APIRouter()
PAGE = 200
_GROUP_IDS = re.compile(r"^\s*sg-[0-9a-zA-Z]+([\s,]+sg-[0-9a-zA-Z]+)*\s*$")


@router.get("/search")
async def search(
    request: Request,
    db: Db,
    capabilities: CapabilitiesDep,
    caller: Viewer,
    q: OptText = None,
    match: Annotated[MatchMode | None, Blank, Query()] = None,
    direction: Annotated[Literal["ingress", "egress"] | None, Blank, Query()] = None,
    account_id: OptAccount = None,
    region: OptRegion = None,
    after: Annotated[str | None, Blank, at_most(300), Query()] = None,
) -> Response:
    mode: MatchMode = match or "contains"
    form = {
        "q": q,
        "match": match,
        "direction": direction,
        "account_id": account_id,
        "region": region,
    }
    found: SearchPage | None = None
    resolved: ResolveResponse | None = None
    searched = ""
    if q and _GROUP_IDS.match(q):
        resolved = await resolve_groups(db, ",".join(re.split(r"[\s,]+", q.strip())))
    elif q:
        network = parse_network(q) if "/" in q else parse_network(str(parse_address(q)))
        searched = str(network)
        found = await search_rules(
            db,
            capabilities,
            network,
            mode,
            direction=direction,
            account_id=account_id,
            region=region,
            after_key=after,
            limit=PAGE,
        )
    return render(
        request,
        "search.html",
        caller.page(
            title=f"Search {q}" if q else "Search",
            nav="search",
            form=form,
            mode=mode,
            searched=searched,
            found=found,
            resolved=resolved,
            after=after,
        ),
    )
