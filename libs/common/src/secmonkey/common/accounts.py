"""Which configured accounts are monitored, i.e. swept: read by the collector and the API;
and the collector's seeding of `accounts` (owned by the API) from its accounts file.

`accounts` lists every account secmonkey knows, monitored or merely trusted (a friendly
account whose groups rules may reference, with no role to read it through).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from secmonkey.common import sealed, storage
from secmonkey.common.documents import Account
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


def is_monitored(account: Account) -> bool:
    """Swept on schedule: enabled, and either a role to assume or not merely a trusted name."""
    return account.enabled and (account.role_arn is not None or not account.trusted)


async def get_account(db: Database, account_id: str) -> Account | None:
    doc = await storage.with_retry(
        lambda: db.accounts.find_one({"_id": account_id}), what="reading an account"
    )
    return None if doc is None else Account.model_validate(sealed.open_doc("accounts", doc))


async def monitored_accounts(db: Database) -> list[Account]:
    """Every enabled account the collector sweeps; unreadable documents are logged and skipped."""
    docs = await storage.with_retry(
        lambda: db.accounts.find({"enabled": {"$ne": False}}).to_list(None), what="listing accounts"
    )
    accounts: list[Account] = []
    for doc in docs:
        try:
            account = Account.model_validate(sealed.open_doc("accounts", doc))
        except ValidationError as exc:
            log.error("skipping malformed account document %s: %s", doc.get("_id"), exc)
            continue
        except sealed.SealError as exc:
            log.error("skipping account %s: %s", doc.get("_id"), exc)
            continue
        if is_monitored(account):
            accounts.append(account)
    return accounts


async def accounts_by_id(db: Database, ids: list[str]) -> list[Account]:
    """The accounts among `ids` that `accounts` holds, enabled or not (malformed ones are
    logged and skipped)."""
    docs = await storage.with_retry(
        lambda: db.accounts.find({"_id": {"$in": ids}}).to_list(None), what="reading accounts"
    )
    found: list[Account] = []
    for doc in docs:
        try:
            found.append(Account.model_validate(doc))
        except ValidationError as exc:
            log.error("skipping malformed account document %s: %s", doc.get("_id"), exc)
    return found


async def upsert_accounts(db: Database, accounts: list[Account]) -> None:
    """Insert or update each account; fields the file does not name are left as they are."""
    for account in accounts:
        doc = sealed.seal_doc("accounts", account.to_mongo())
        account_id = doc.pop("_id")
        named = {k: v for k, v in doc.items() if k in account.model_fields_set or k == "name"}
        defaults = {k: v for k, v in doc.items() if k not in named}
        update: dict[str, Any] = {"$set": named}
        if defaults:
            update["$setOnInsert"] = defaults
        await storage.with_retry(
            lambda a=account_id, u=update: db.accounts.update_one(  # type: ignore[misc]
                {"_id": a}, u, upsert=True
            ),
            what="upserting an account",
        )
