"""Admin · allowlist: named networks whose findings the auditor silences."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Form, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.queries import allowlist
from secmonkey.api.schemas.admin import NAME_PATTERN, AllowlistIn, AllowlistView
from secmonkey.api.web.routes.admin._page import AdminPage, AdminPost, Refused, build

EntryName = Annotated[str, Path(pattern=NAME_PATTERN)]
_NAME = re.compile(NAME_PATTERN)


PAGE = AdminPage("allowlist", "Allowlist", rows="entries", listed=allowlist.list_entries)


@PAGE.router.post("/allowlist")
async def add_entry(
    visit: AdminPost,
    name: Annotated[str, Form(max_length=128)] = "",
    cidr: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
    force: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    async def save() -> AllowlistView:
        if not _NAME.match(name.strip()):
            raise Refused(
                "name: letters, digits, spaces and . _ : @ + - (starting with a letter or digit)",
                422,
            )
        body = build(
            AllowlistIn, cidr=cidr.strip(), description=description.strip(), force=bool(force)
        )
        return await actions.put_allowlist_entry(visit.trail, name.strip(), body)

    return await PAGE.act(visit, save, lambda e: f"Saved {e.name} ({e.cidr}).")


@PAGE.router.post("/allowlist/{name}/delete")
async def delete_entry(visit: AdminPost, name: EntryName) -> Response:
    return await PAGE.act(
        visit,
        lambda: actions.delete_allowlist_entry(visit.trail, name),
        lambda _: f"Removed {name}.",
    )
