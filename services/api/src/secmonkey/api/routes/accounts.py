"""`/accounts`: the monitored (and trusted) AWS accounts. Reads: viewer; writes: admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from secmonkey.api.deps import Admin, Db, Viewer
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.admin import AccountFields, AccountIn, AccountView
from secmonkey.common.documents import Account
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.messages import ACCOUNT_ID_PATTERN
from secmonkey.common.storage import insert_unique

router = APIRouter(
    prefix="/accounts", tags=["accounts"], responses=problem_responses(401, 403, 422)
)
AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, description="12-digit account ID")]


@router.get("", response_model=list[AccountView], summary="List accounts")
async def list_accounts(db: Db, _: Viewer) -> list[AccountView]:
    docs = await db.accounts.find({}).sort("_id", 1).to_list()
    return [AccountView.of(Account.model_validate(d)) for d in docs]


@router.post(
    "",
    response_model=AccountView,
    status_code=201,
    summary="Add an account",
    responses=problem_responses(409),
)
async def create_account(db: Db, _: Admin, body: AccountIn) -> AccountView:
    account = Account.model_validate(body.model_dump())
    if not await insert_unique(db.accounts, account.to_mongo()):
        raise Conflict(f"account {body.id} already exists; PUT /accounts/{body.id} changes it")
    return AccountView.of(account)


@router.get(
    "/{account_id}",
    response_model=AccountView,
    summary="One account",
    responses=problem_responses(404),
)
async def get_account(db: Db, _: Viewer, account_id: AccountPath) -> AccountView:
    doc = await db.accounts.find_one({"_id": account_id})
    if doc is None:
        raise NotFound(f"no account {account_id}")
    return AccountView.of(Account.model_validate(doc))


@router.put(
    "/{account_id}",
    response_model=AccountView,
    summary="Replace an account's settings",
    responses=problem_responses(404),
)
async def update_account(
    db: Db, _: Admin, account_id: AccountPath, body: AccountFields
) -> AccountView:
    account = Account.model_validate({"id": account_id, **body.model_dump()})
    fields = {k: v for k, v in account.to_mongo().items() if k != "_id"}
    result = await db.accounts.update_one({"_id": account_id}, {"$set": fields})
    if result.matched_count == 0:
        raise NotFound(f"no account {account_id}; POST /accounts creates it")
    return AccountView.of(account)


@router.delete(
    "/{account_id}",
    status_code=204,
    summary="Remove an account (its history stays)",
    responses=problem_responses(404),
)
async def delete_account(db: Db, _: Admin, account_id: AccountPath) -> Response:
    result = await db.accounts.delete_one({"_id": account_id})
    if result.deleted_count == 0:
        raise NotFound(f"no account {account_id}")
    return Response(status_code=204)
