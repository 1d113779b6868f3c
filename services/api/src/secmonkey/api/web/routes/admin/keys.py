"""Admin · API keys: list, create (the key shown once), disable or enable, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request, Response

from secmonkey.api.auth import KeyVerifier
from secmonkey.api.deps import Db, get_verifier
from secmonkey.api.queries import keys
from secmonkey.api.schemas.admin import KEY_ID_PATTERN, KeyCreated, KeyIn, KeyUpdate
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render
from secmonkey.api.web.routes.admin._refused import Refused, attempt, build

router = APIRouter()
KeyPath = Annotated[str, Path(pattern=KEY_ID_PATTERN)]
VerifierDep = Annotated[KeyVerifier, Depends(get_verifier)]


async def _keys_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    created: KeyCreated | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/keys.html",
        caller.page(
            title="API keys",
            nav="admin",
            section="keys",
            keys=await keys.list_keys(db),
            created=created,
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/keys")
async def keys_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _keys_page(request, db, caller)


@router.post("/keys")
async def add_key(
    request: Request,
    db: Db,
    caller: AdminForm,
    name: Annotated[str, Form(max_length=128)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
) -> Response:
    try:
        body = build(KeyIn, name=name.strip(), role=role)
        created = await attempt(keys.new_key(db, body))
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    return await _keys_page(request, db, caller, created=created)


@router.post("/keys/{key_id}/toggle")
async def toggle_key(
    request: Request, db: Db, verifier: VerifierDep, caller: AdminForm, key_id: KeyPath
) -> Response:
    try:
        current = await attempt(keys.get_key(db, key_id))
        updated = await attempt(
            keys.update_key(
                db, verifier, caller.principal, key_id, KeyUpdate(enabled=not current.enabled)
            )
        )
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    state = "enabled" if updated.enabled else "disabled"
    return await _keys_page(request, db, caller, notice=f"Key {updated.name} {state}.")


@router.post("/keys/{key_id}/delete")
async def delete_key(
    request: Request, db: Db, verifier: VerifierDep, caller: AdminForm, key_id: KeyPath
) -> Response:
    try:
        await attempt(keys.delete_key(db, verifier, caller.principal, key_id))
    except Refused as exc:
        return await _keys_page(request, db, caller, error=exc.message, status_code=exc.status_code)
    return await _keys_page(request, db, caller, notice="Key revoked.")
