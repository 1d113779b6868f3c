"""Admin · accounts: list, add, enable or disable, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response

from secmonkey.api.deps import Db
from secmonkey.api.queries import accounts
from secmonkey.api.schemas.admin import AccountFields, AccountIn
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render
from secmonkey.api.web.routes.admin._refused import Refused, attempt, build, split
from secmonkey.common.messages import ACCOUNT_ID_PATTERN

router = APIRouter()
AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN)]


async def _accounts_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/accounts.html",
        caller.page(
            title="Accounts",
            nav="admin",
            section="accounts",
            accounts=await accounts.list_accounts(db),
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/accounts")
async def accounts_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _accounts_page(request, db, caller)


@router.post("/accounts")
async def add_account(
    request: Request,
    db: Db,
    caller: AdminForm,
    account_id: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    role_arn: Annotated[str, Form(max_length=600)] = "",
    external_id: Annotated[str, Form(max_length=1224)] = "",
    regions: Annotated[str, Form(max_length=2000)] = "",
    labels: Annotated[str, Form(max_length=2000)] = "",
    trusted: Annotated[bool, Form()] = False,
) -> Response:
    try:
        body = build(
            AccountIn,
            id=account_id.strip(),
            name=name.strip(),
            role_arn=role_arn.strip() or None,
            external_id=external_id.strip() or None,
            regions=split(regions) or None,
            labels=split(labels),
            trusted=trusted,
        )
        created = await attempt(accounts.create_account(db, body))
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _accounts_page(request, db, caller, notice=f"Added account {created.id}.")


@router.post("/accounts/{account_id}/toggle")
async def toggle_account(
    request: Request, db: Db, caller: AdminForm, account_id: AccountPath
) -> Response:
    try:
        current = await attempt(accounts.get_account(db, account_id))
        fields = current.model_dump(exclude={"id"})
        fields["enabled"] = not current.enabled
        updated = await attempt(accounts.update_account(db, account_id, AccountFields(**fields)))
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    state = "enabled" if updated.enabled else "disabled"
    return await _accounts_page(request, db, caller, notice=f"Account {account_id} {state}.")


@router.post("/accounts/{account_id}/delete")
async def delete_account(
    request: Request, db: Db, caller: AdminForm, account_id: AccountPath
) -> Response:
    try:
        await attempt(accounts.delete_account(db, account_id))
    except Refused as exc:
        return await _accounts_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _accounts_page(
        request, db, caller, notice=f"Removed account {account_id}; its history stays."
    )
