"""Compliance: the posture against one framework, per control and account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.deps import Db
from secmonkey.api.queries.compliance import list_frameworks, posture
from secmonkey.api.schemas.compliance import FRAMEWORK_PATTERN
from secmonkey.api.web.deps import OptAccount, Viewer
from secmonkey.api.web.rendering import render, root_of
from secmonkey.common.frameworks import POSTURE_FRAMEWORKS, framework

router = APIRouter()
FrameworkId = Annotated[str, Path(pattern=FRAMEWORK_PATTERN)]


@router.get("/compliance")
async def first_framework(request: Request, caller: Viewer) -> Response:
    return RedirectResponse(f"{root_of(request)}/compliance/{POSTURE_FRAMEWORKS[0]}", 303)


@router.get("/compliance/{framework_id}")
async def framework_page(
    request: Request,
    db: Db,
    caller: Viewer,
    framework_id: FrameworkId,
    account_id: OptAccount = None,
) -> Response:
    answer = await posture(db, framework_id, account_id)
    accounts = sorted(
        {(row.account_id, row.account_name) for c in answer.controls for row in c.accounts}
    )
    return render(
        request,
        "compliance.html",
        caller.page(
            title=f"Compliance: {answer.name}",
            nav="compliance",
            posture=answer,
            frameworks=await list_frameworks(db),
            accounts=accounts,
            tag_prefix=framework(framework_id).tag_prefix,
            account_id=account_id,
        ),
    )
