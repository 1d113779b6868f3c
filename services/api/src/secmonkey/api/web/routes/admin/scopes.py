"""Admin · compliance scopes: which groups fall under change review, and within how long."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Form, Path, Response

from secmonkey.api.queries import scopes
from secmonkey.api.schemas.change_control import ScopeIn, ScopeView
from secmonkey.api.web.routes.admin._page import AdminPage, AdminPost, Refused, build, split
from secmonkey.common.compliance_scopes import SCOPE_NAME_PATTERN

ScopeName = Annotated[str, Path(pattern=SCOPE_NAME_PATTERN)]
_NAME = re.compile(SCOPE_NAME_PATTERN)

PAGE = AdminPage("scopes", "Compliance scopes", rows="scopes", listed=scopes.list_scopes)


def _tags(text: str) -> dict[str, str]:
    tags = {}
    for pair in split(text):
        if "=" not in pair:
            raise Refused(f"tags: {pair!r} is not key=value", 422)
        key, value = pair.split("=", 1)
        tags[key] = value
    return tags


@PAGE.router.post("/scopes")
async def put_scope(
    visit: AdminPost,
    name: Annotated[str, Form(max_length=40)] = "",
    description: Annotated[str, Form(max_length=500)] = "",
    account_labels: Annotated[str, Form(max_length=2000)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
    vpc_ids: Annotated[str, Form(max_length=20000)] = "",
    group_ids: Annotated[str, Form(max_length=100000)] = "",
    review_hours: Annotated[str, Form(max_length=10)] = "24",
    auto_principals: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    async def save() -> ScopeView:
        if not _NAME.match(name.strip()):
            raise Refused("name: lower-case letters, digits, - and _ (e.g. pci)", 422)
        body = build(
            ScopeIn,
            description=description.strip(),
            account_labels=split(account_labels),
            tags=_tags(tags),
            vpc_ids=split(vpc_ids),
            group_ids=split(group_ids),
            review_hours=review_hours.strip() or "24",
            auto_approvals=[{"principal": p} for p in split(auto_principals)],
        )
        return await scopes.put_scope(visit.db, name.strip(), body)

    return await PAGE.act(visit, save, lambda s: f"Saved scope {s.name}.")


@PAGE.router.post("/scopes/{name}/delete")
async def delete_scope(visit: AdminPost, name: ScopeName) -> Response:
    return await PAGE.act(
        visit, lambda: scopes.delete_scope(visit.db, name), lambda _: f"Removed scope {name}."
    )
