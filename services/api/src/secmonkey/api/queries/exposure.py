"""Exposed endpoints (the auditor's `exposures`): filtered by place, port and resource
type, one indexed find a page."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.schemas.exposure import ExposedEndpoint, ExposurePage
from secmonkey.common.storage import Database, filters


class _Cursor(BaseModel):
    k: str


def exposure_query(
    *,
    account_id: str | None = None,
    region: str | None = None,
    port: int | None = None,
    resource_type: str | None = None,
    group_id: str | None = None,
) -> dict[str, Any]:
    query: dict[str, Any] = filters.equals(
        account_id=account_id or None,
        region=region or None,
        resource_type=resource_type or None,
        group_id=group_id or None,
    )
    if port is not None:
        query["from_port"] = {"$lte": port}
        query["to_port"] = {"$gte": port}
    return query


async def find_exposure(
    db: Database,
    *,
    account_id: str | None = None,
    region: str | None = None,
    port: int | None = None,
    resource_type: str | None = None,
    group_id: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> ExposurePage:
    query = exposure_query(
        account_id=account_id,
        region=region,
        port=port,
        resource_type=resource_type,
        group_id=group_id,
    )
    position = decode_cursor(cursor, _Cursor)
    if position is not None:
        query["_id"] = {"$gt": position.k}
    docs = await db.exposures.find(query).sort("_id", 1).limit(limit).to_list(limit)
    items = [ExposedEndpoint.model_validate(d) for d in docs]
    more = len(docs) == limit
    return ExposurePage(
        items=items, next_cursor=encode_cursor(_Cursor(k=docs[-1]["_id"])) if more else None
    )


async def group_exposure(db: Database, key: str, limit: int = 200) -> list[ExposedEndpoint]:
    """The exposed endpoints of one group (its page in the console)."""
    docs = await db.exposures.find({"key": key}).sort("_id", 1).limit(limit).to_list(limit)
    return [ExposedEndpoint.model_validate(d) for d in docs]
