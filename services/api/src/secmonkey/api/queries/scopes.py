"""Compliance scopes: list, read, put (create or replace), delete."""

from __future__ import annotations

from datetime import UTC, datetime

from secmonkey.api.schemas.change_control import ScopeIn, ScopeView
from secmonkey.common.compliance_scopes import Scope, load_scopes
from secmonkey.common.errors import NotFound
from secmonkey.common.storage import Database


async def list_scopes(db: Database) -> list[ScopeView]:
    return [ScopeView.of(s) for s in sorted(await load_scopes(db), key=lambda s: s.name)]


async def get_scope(db: Database, name: str) -> ScopeView:
    doc = await db.scopes.find_one({"_id": name})
    if doc is None:
        raise NotFound(f"no compliance scope {name}")
    return ScopeView.of(Scope.model_validate(doc))


async def put_scope(db: Database, name: str, body: ScopeIn) -> ScopeView:
    scope = Scope(name=name, **body.model_dump(), updated_at=datetime.now(UTC))
    await db.scopes.replace_one({"_id": name}, scope.to_mongo(), upsert=True)
    return ScopeView.of(scope)


async def delete_scope(db: Database, name: str) -> None:
    if (await db.scopes.delete_one({"_id": name})).deleted_count == 0:
        raise NotFound(f"no compliance scope {name}")
