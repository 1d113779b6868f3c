"""`/compliance`: the frameworks, and one framework's posture per control and account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import compliance
from secmonkey.api.routes._params import AccountFilter
from secmonkey.api.schemas.compliance import (
    FRAMEWORK_PATTERN,
    CompliancePosture,
    FrameworkView,
)

router = APIRouter(
    prefix="/compliance", tags=["compliance"], responses=problem_responses(401, 403, 422)
)
FrameworkId = Annotated[
    str,
    Path(
        pattern=FRAMEWORK_PATTERN,
        description="cis, pci, hipaa, soc2, nist-800-53 (or fsbp)",
    ),
]


@router.get("", response_model=list[FrameworkView], summary="The compliance frameworks")
async def list_frameworks(db: Db, _: Viewer) -> list[FrameworkView]:
    return await compliance.list_frameworks(db)


@router.get(
    "/{framework}",
    response_model=CompliancePosture,
    summary="Posture against one framework: each control, its rules, pass/fail per account",
    responses=problem_responses(404),
)
async def posture(
    db: Db, _: Viewer, framework: FrameworkId, account_id: AccountFilter = None
) -> CompliancePosture:
    return await compliance.posture(db, framework, account_id)
