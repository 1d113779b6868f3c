"""API keys: minted once (only the hash is stored), renamed, disabled, revoked.

The last enabled admin key is never disabled, demoted or revoked, so some admin can
always sign in.
"""

from __future__ import annotations

from typing import Any

from secmonkey.api.auth import KeyVerifier, Principal, create_key
from secmonkey.api.schemas.admin import KeyCreated, KeyIn, KeyUpdate, KeyView
from secmonkey.common.documents import ApiKey
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.storage import Database


async def _load(db: Database, key_id: str) -> ApiKey:
    doc = await db.api_keys.find_one({"_id": key_id})
    if doc is None:
        raise NotFound(f"no API key {key_id}")
    return ApiKey.model_validate(doc)


async def list_keys(db: Database) -> list[KeyView]:
    docs = await db.api_keys.find({}).sort("created_at", 1).to_list()
    return [KeyView.of(ApiKey.model_validate(d)) for d in docs]


async def new_key(db: Database, body: KeyIn) -> KeyCreated:
    """A new key, returned with the key itself: the only time it is shown."""
    doc, key = await create_key(db, body.name, body.role, body.expires_at)
    return KeyCreated(**KeyView.of(doc).model_dump(), key=key)


async def get_key(db: Database, key_id: str) -> KeyView:
    return KeyView.of(await _load(db, key_id))


async def update_key(
    db: Database, verifier: KeyVerifier, caller: Principal, key_id: str, body: KeyUpdate
) -> KeyView:
    """Rename, change the role of, disable or enable a key; `Conflict` for the last admin."""
    key = await _load(db, key_id)
    changes: dict[str, Any] = body.model_dump(exclude_none=True)
    loses_admin = (
        key.role == "admin"
        and key.enabled
        and (changes.get("role", "admin") != "admin" or changes.get("enabled", True) is False)
    )
    if loses_admin:
        await _keep_an_admin(db, key_id, caller)
    if changes:
        await db.api_keys.update_one({"_id": key_id}, {"$set": changes})
        verifier.forget()
    return KeyView.of(key.model_copy(update=changes))


async def delete_key(db: Database, verifier: KeyVerifier, caller: Principal, key_id: str) -> None:
    """Revoke a key; `Conflict` for the last enabled admin key."""
    key = await _load(db, key_id)
    if key.role == "admin" and key.enabled:
        await _keep_an_admin(db, key_id, caller)
    await db.api_keys.delete_one({"_id": key_id})
    verifier.forget()


async def _keep_an_admin(db: Database, key_id: str, caller: Principal) -> None:
    others = await db.api_keys.count_documents(
        {"role": "admin", "enabled": True, "_id": {"$ne": key_id}}
    )
    if others == 0:
        raise Conflict(
            "this is the last enabled admin key; create another admin key first "
            f"(asked by {caller.name!r})"
        )
