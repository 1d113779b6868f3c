"""Admin · allowlist: named networks whose findings the auditor silences."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response

from secmonkey.api.deps import Db
from secmonkey.api.queries import allowlist
from secmonkey.api.schemas.admin import NAME_PATTERN, AllowlistIn
from secmonkey.api.web.deps import Admin, AdminForm, Caller
from secmonkey.api.web.rendering import render
from secmonkey.api.web.routes.admin._refused import Refused, attempt, build

router = APIRouter()
EntryName = Annotated[str, Path(pattern=NAME_PATTERN)]
_NAME = re.compile(NAME_PATTERN)


async def _allowlist_page(
    request: Request,
    db: Db,
    caller: Caller,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "admin/allowlist.html",
        caller.page(
            title="Allowlist",
            nav="admin",
            section="allowlist",
            entries=await allowlist.list_entries(db),
            notice=notice,
            error=error,
        ),
        status_code=status_code,
    )


@router.get("/allowlist")
async def allowlist_page(request: Request, db: Db, caller: Admin) -> Response:
    return await _allowlist_page(request, db, caller)


@router.post("/allowlist")
async def add_entry(
    request: Request,
    db: Db,
    caller: AdminForm,
    name: Annotated[str, Form(max_length=128)] = "",
    cidr: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        if not _NAME.match(name.strip()):
            raise Refused(
                "name: letters, digits, spaces and . _ : @ + - (starting with a letter or digit)",
                422,
            )
        body = build(AllowlistIn, cidr=cidr.strip(), description=description.strip())
        entry = await attempt(allowlist.put_entry(db, name.strip(), body))
    except Refused as exc:
        return await _allowlist_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _allowlist_page(request, db, caller, notice=f"Saved {entry.name} ({entry.cidr}).")


@router.post("/allowlist/{name}/delete")
async def delete_entry(request: Request, db: Db, caller: AdminForm, name: EntryName) -> Response:
    try:
        await attempt(allowlist.delete_entry(db, name))
    except Refused as exc:
        return await _allowlist_page(
            request, db, caller, error=exc.message, status_code=exc.status_code
        )
    return await _allowlist_page(request, db, caller, notice=f"Removed {name}.")
