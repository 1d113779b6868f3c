"""Accounts: the monitored (and trusted) AWS accounts the collectors sweep.

The external ID is write-only and stored sealed (`secmonkey.common.sealed`); a PUT that
leaves it out keeps the one stored.
"""

from __future__ import annotations

from typing import Any

from secmonkey.api.schemas.admin import AccountFields, AccountIn, AccountView
from secmonkey.common import sealed
from secmonkey.common.documents import Account
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.storage import Database, insert_unique


def _stored(account: Account) -> dict[str, Any]:
    return sealed.seal_doc("accounts", account.to_mongo())


async def load(db: Database, account_id: str) -> Account | None:
    """The account as stored (its external ID still sealed), or None."""
    doc = await db.accounts.find_one({"_id": account_id})
    return None if doc is None else Account.model_validate(doc)


async def list_accounts(db: Database) -> list[AccountView]:
    docs = await db.accounts.find({}).sort("_id", 1).to_list()
    return [AccountView.of(Account.model_validate(d)) for d in docs]


async def get_account(db: Database, account_id: str) -> AccountView:
    account = await load(db, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    return AccountView.of(account)


async def create_account(db: Database, body: AccountIn) -> AccountView:
    """Add an account; `Conflict` if its ID is already monitored."""
    account = Account.model_validate(body.model_dump())
    if not await insert_unique(db.accounts, _stored(account)):
        raise Conflict(f"account {body.id} already exists; PUT /accounts/{body.id} changes it")
    return AccountView.of(account)


async def update_account(db: Database, account_id: str, body: AccountFields) -> AccountView:
    """Replace an account's settings (an external ID left out is kept); `NotFound` if absent."""
    account = Account.model_validate({"id": account_id, **body.model_dump()})
    fields = {k: v for k, v in _stored(account).items() if k != "_id"}
    if body.external_id is None:
        fields.pop("external_id", None)
    result = await db.accounts.update_one({"_id": account_id}, {"$set": fields})
    if result.matched_count == 0:
        raise NotFound(f"no account {account_id}; POST /accounts creates it")
    stored = await load(db, account_id)
    return AccountView.of(stored or account)


async def delete_account(db: Database, account_id: str) -> None:
    """Stop monitoring an account; its history stays."""
    result = await db.accounts.delete_one({"_id": account_id})
    if result.deleted_count == 0:
        raise NotFound(f"no account {account_id}")
