"""Console sessions kept server-side (`console_sessions`), so they can be ended.

The cookie carries only a signed session id; every page reads the record. Signing out
deletes it, and revoking or disabling a key deletes every session of that key, on every
replica at once (there is no cache). Records past their expiry are refused and deleted by
`expire`, run periodically.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from secmonkey.api.auth import Principal
from secmonkey.common.documents import Role
from secmonkey.common.storage import Database


@dataclass(frozen=True)
class Session:
    """A signed-in browser: a key (by its hash) or a person (SSO), and its forms' CSRF token."""

    id: str
    csrf: str
    key_hash: str | None = None
    user: Principal | None = None


async def create(
    db: Database,
    hours: float,
    *,
    key_id: str,
    key_hash: str | None = None,
    user: Principal | None = None,
    client: str | None = None,
) -> Session:
    now = datetime.now(UTC)
    session = Session(
        id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(24), key_hash=key_hash, user=user
    )
    doc: dict[str, Any] = {
        "_id": session.id,
        "csrf": session.csrf,
        "key_id": key_id,
        "key_hash": key_hash,
        "created_at": now,
        "expires_at": now + timedelta(hours=hours),
        "client": client,
    }
    if user is not None:
        doc["user"] = {"id": user.key_id, "name": user.name, "role": user.role}
    await db.console_sessions.insert_one(doc)
    return session


async def load(db: Database, session_id: str) -> Session | None:
    """The live session of that id, or None (ended, expired or never made)."""
    doc = await db.console_sessions.find_one({"_id": session_id})
    if doc is None:
        return None
    expires = doc["expires_at"]
    if (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= datetime.now(UTC):
        return None
    user = None
    if isinstance(doc.get("user"), dict):
        u = doc["user"]
        role: Role = u["role"]
        user = Principal(key_id=u["id"], name=u["name"], role=role, user=True)
    return Session(id=doc["_id"], csrf=doc["csrf"], key_hash=doc.get("key_hash"), user=user)


async def end(db: Database, session_id: str) -> None:
    await db.console_sessions.delete_one({"_id": session_id})


async def end_sessions_of(db: Database, key_id: str) -> int:
    """End every console session signed in with the key (or SSO user) `key_id`."""
    result = await db.console_sessions.delete_many({"key_id": key_id})
    return result.deleted_count


async def expire(db: Database) -> int:
    result = await db.console_sessions.delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
    return result.deleted_count
