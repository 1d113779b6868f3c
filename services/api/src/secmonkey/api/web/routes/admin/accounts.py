"""Admin · accounts: list, add, enable or disable, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.queries import accounts
from secmonkey.api.schemas.admin import AccountFields, AccountIn, AccountView
from secmonkey.api.web.routes.admin._page import AdminPage, AdminPost, build, split
from secmonkey.common.messages import ACCOUNT_ID_PATTERN

AccountPath = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN)]

PAGE = AdminPage("accounts", "Accounts", rows="accounts", listed=accounts.list_accounts)


@PAGE.router.post("/accounts")
async def add_account(
    visit: AdminPost,
    account_id: Annotated[str, Form(max_length=12)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    role_arn: Annotated[str, Form(max_length=600)] = "",
    external_id: Annotated[str, Form(max_length=1224)] = "",
    regions: Annotated[str, Form(max_length=2000)] = "",
    labels: Annotated[str, Form(max_length=2000)] = "",
    trusted: Annotated[bool, Form()] = False,
) -> Response:
    async def add() -> AccountView:
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
        return await actions.create_account(visit.trail, body)

    return await PAGE.act(visit, add, lambda a: f"Added account {a.id}.")


@PAGE.router.post("/accounts/{account_id}/toggle")
async def toggle_account(visit: AdminPost, account_id: AccountPath) -> Response:
    async def toggle() -> AccountView:
        current = await accounts.get_account(visit.db, account_id)
        fields = current.model_dump(exclude={"id", "external_id_set"})
        fields["enabled"] = not current.enabled
        return await actions.update_account(visit.trail, account_id, AccountFields(**fields))

    def notice(updated: AccountView) -> str:
        return f"Account {account_id} {'enabled' if updated.enabled else 'disabled'}."

    return await PAGE.act(visit, toggle, notice)


@PAGE.router.post("/accounts/{account_id}/delete")
async def delete_account(visit: AdminPost, account_id: AccountPath) -> Response:
    return await PAGE.act(
        visit,
        lambda: actions.delete_account(visit.trail, account_id),
        lambda _: f"Removed account {account_id}; its history stays.",
    )
