"""`secmonkey admin rotate-secrets`: every sealed credential re-sealed under the first key.

Plaintext values written before sealing existed are sealed too (the upgrade path). Each
field is rewritten only if it still holds the value read (a conditional update), so a
concurrent change through the API is never overwritten with an older secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secmonkey.common.sealed import SEALED_FIELDS, Keyring, SealError
from secmonkey.common.storage import Database


@dataclass
class Rotation:
    """What a rotation did, per collection."""

    resealed: dict[str, int] = field(default_factory=dict)
    already_current: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _value(doc: dict[str, Any], path: str) -> str | None:
    node: Any = doc
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) and node else None


async def rotate_secrets(db: Database, ring: Keyring) -> Rotation:
    """Re-seal every credential of `SEALED_FIELDS` under `ring`'s first key."""
    result = Rotation()
    for collection, paths in SEALED_FIELDS.items():
        resealed = current = 0
        async for doc in db[collection].find({}):
            for path in paths:
                value = _value(doc, path)
                if value is None:
                    continue
                if ring.sealed_by_first(value):
                    current += 1
                    continue
                try:
                    new = ring.reseal(value)
                except SealError:
                    result.unreadable.append(f"{collection}/{doc['_id']}/{path}")
                    continue
                await db[collection].update_one(
                    {"_id": doc["_id"], path: value}, {"$set": {path: new}}
                )
                resealed += 1
        result.resealed[collection] = resealed
        result.already_current[collection] = current
    return result
