"""`/keys`: API keys (admin). A new key is shown once; only its hash is stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from secmonkey.api.auth import Principal, create_key
from secmonkey.api.deps import Admin, Db, Verifier
from secmonkey.api.problems import problem_responses
from secmonkey.api.schemas.admin import KeyCreated, KeyIn, KeyUpdate, KeyView
from secmonkey.common.documents import ApiKey
from secmonkey.common.errors import Conflict, NotFound
from secmonkey.common.storage import Database

router = APIRouter(prefix="/keys", tags=["keys"], responses=problem_responses(401, 403, 422))
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$", description="the key's ID")]


async def _load(db: Database, key_id: str) -> ApiKey:
    doc = await db.api_keys.find_one({"_id": key_id})
    if doc is None:
        raise NotFound(f"no API key {key_id}")
    return ApiKey.model_validate(doc)


async def _other_admins(db: Database, key_id: str) -> int:
    return await db.api_keys.count_documents(
        {"role": "admin", "enabled": True, "_id": {"$ne": key_id}}
    )


@router.get("", response_model=list[KeyView], summary="List API keys")
async def list_keys(db: Db, _: Admin) -> list[KeyView]:
    docs = await db.api_keys.find({}).sort("created_at", 1).to_list()
    return [KeyView.of(ApiKey.model_validate(d)) for d in docs]


@router.post("", response_model=KeyCreated, status_code=201, summary="Create an API key")
async def new_key(db: Db, _: Admin, body: KeyIn) -> KeyCreated:
    doc, key = await create_key(db, body.name, body.role)
    return KeyCreated(**KeyView.of(doc).model_dump(), key=key)


@router.get(
    "/{key_id}", response_model=KeyView, summary="One API key", responses=problem_responses(404)
)
async def get_key(db: Db, _: Admin, key_id: KeyId) -> KeyView:
    return KeyView.of(await _load(db, key_id))


@router.patch(
    "/{key_id}",
    response_model=KeyView,
    summary="Rename, change the role of, disable or enable a key",
    responses=problem_responses(404, 409),
)
async def update_key(
    db: Db, verifier: Verifier, caller: Admin, key_id: KeyId, body: KeyUpdate
) -> KeyView:
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


@router.delete(
    "/{key_id}",
    status_code=204,
    summary="Revoke (delete) an API key",
    responses=problem_responses(404, 409),
)
async def delete_key(db: Db, verifier: Verifier, caller: Admin, key_id: KeyId) -> Response:
    key = await _load(db, key_id)
    if key.role == "admin" and key.enabled:
        await _keep_an_admin(db, key_id, caller)
    await db.api_keys.delete_one({"_id": key_id})
    verifier.forget()
    return Response(status_code=204)


async def _keep_an_admin(db: Database, key_id: str, caller: Principal) -> None:
    if await _other_admins(db, key_id) == 0:
        raise Conflict(
            "this is the last enabled admin key; create another admin key first "
            f"(asked by {caller.name!r})"
        )
