"""API keys: minted once, stored as SHA-256, checked on every request with a short cache.

A key is `smk_` followed by 43 URL-safe random characters; only its hash and its first
characters (to tell keys apart in listings) are stored. A verified key is trusted for
`key_cache_seconds` before it is read again, so revoking a key takes effect within that
delay on every replica.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from secmonkey.common.documents import ApiKey, Role, hash_api_key, role_allows
from secmonkey.common.storage import Database, insert_unique

log = logging.getLogger(__name__)

KEY_PREFIX = "smk_"
SHOWN_PREFIX_LENGTH = 10
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_KEY_LENGTH = 512


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's ID, name and role."""

    key_id: str
    name: str
    role: Role
    expires_at: datetime | None = None
    user: bool = False  # a person signed in by single sign-on, not an API key

    def may(self, role: Role) -> bool:
        return role_allows(self.role, role)

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= datetime.now(UTC)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_document(name: str, role: Role, key: str, expires_at: datetime | None = None) -> ApiKey:
    return ApiKey(
        id=uuid.uuid4().hex[:16],
        name=name,
        role=role,
        hash=hash_api_key(key),
        prefix=key[:SHOWN_PREFIX_LENGTH],
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )


async def create_key(
    db: Database, name: str, role: Role, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Store a new key; return its document and the key itself (shown once, never stored)."""
    key = generate_key()
    doc = new_key_document(name, role, key, expires_at)
    await db.api_keys.insert_one(doc.to_mongo())
    return doc, key


async def ensure_key(db: Database, key: str, *, name: str, role: Role) -> bool:
    """Make sure `key` exists with `role` (the bootstrap key); True if it was created now."""
    doc = new_key_document(name, role, key)
    if await db.api_keys.find_one({"hash": doc.hash}, {"_id": 1}) is not None:
        return False
    # Once any admin key exists the bootstrap key is never made again: an operator who
    # revoked a leaked bootstrap key must not see it return at the next restart.
    if await db.api_keys.find_one({"role": "admin", "enabled": True}, {"_id": 1}) is not None:
        log.warning("bootstrap key not created: an admin key already exists")
        return False
    if not await insert_unique(db.api_keys, doc.to_mongo()):
        return False  # another replica created it at the same moment
    log.info("created the bootstrap %s key %r (id %s)", role, name, doc.id)
    return True


@dataclass
class _Cached:
    principal: Principal | None
    until: float


class KeyVerifier:
    """Turns a bearer key into a `Principal` (or None), caching answers briefly."""

    def __init__(self, db: Database, cache_seconds: float) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._cache: dict[str, _Cached] = {}
        self._last_used: dict[str, datetime] = {}

    def forget(self) -> None:
        """Drop every cached answer (after keys are changed through this replica)."""
        self._cache.clear()

    async def verify(self, key: str) -> Principal | None:
        if not key or len(key) > MAX_KEY_LENGTH:
            return None
        return await self.verify_digest(hash_api_key(key))

    async def verify_digest(self, digest: str) -> Principal | None:
        """As `verify`, for a key known only by its SHA-256 (what a console session keeps)."""
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.until > now:
            principal = cached.principal
        else:
            principal = await self._load(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = _Cached(principal, now + self._cache_seconds)
        if principal is not None and principal.expired():
            return None
        if principal is not None:
            await self._touch(principal.key_id)
        return principal

    async def _load(self, digest: str) -> Principal | None:
        doc = await self._db.api_keys.find_one({"hash": digest})
        if doc is None or not doc.get("enabled", True):
            return None
        key = ApiKey.model_validate(doc)
        return Principal(key_id=key.id, name=key.name, role=key.role, expires_at=key.expires_at)

    async def _touch(self, key_id: str) -> None:
        """Record `last_used_at`, at most once a minute per key and replica."""
        now = datetime.now(UTC)
        last = self._last_used.get(key_id)
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return
        self._last_used[key_id] = now
        await self._db.api_keys.update_one({"_id": key_id}, {"$set": {"last_used_at": now}})
