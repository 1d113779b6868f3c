"""`/accounts`: the monitored (and trusted) AWS accounts. Reads: viewer; writes: admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.queries import accounts
from secmonkey.api.schemas.admin import AccountFields, AccountIn, AccountView
from secmonkey.common.messages import ACCOUNT_ID_PATTERN

router = APIRouter(
    prefix="/accounts", tags=["accounts"], responses=problem_responses(401, 403, 422)
)
AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="12-digit account ID")]


@router.get("", response_model=list[AccountView], summary="List accounts")
async def list_accounts(db: Db, _: Viewer) -> list[AccountView]:
    return await accounts.list_accounts(db)


@router.post(
    "",
    response_model=AccountView,
    status_code=201,
    summary="Add an account",
    responses=problem_responses(409),
)
async def create_account(trail: AdminTrail, body: AccountIn) -> AccountView:
    return await actions.create_account(trail, body)


@router.get(
    "/{account_id}",
    response_model=AccountView,
    summary="One account",
    responses=problem_responses(404),
)
async def get_account(db: Db, _: Viewer, account_id: AccountPath) -> AccountView:
    return await accounts.get_account(db, account_id)


@router.put(
    "/{account_id}",
    response_model=AccountView,
    summary="Replace an account's settings",
    responses=problem_responses(404),
)
async def update_account(
    trail: AdminTrail, account_id: AccountPath, body: AccountFields
) -> AccountView:
    return await actions.update_account(trail, account_id, body)


@router.delete(
    "/{account_id}",
    status_code=204,
    summary="Remove an account (its history stays)",
    responses=problem_responses(404),
)
async def delete_account(trail: AdminTrail, account_id: AccountPath) -> Response:
    await actions.delete_account(trail, account_id)
    return Response(status_code=204)
