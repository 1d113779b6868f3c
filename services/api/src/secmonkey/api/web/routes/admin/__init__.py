"""Admin pages (role `admin`): accounts, the allowlist, subscriptions (with a test send), API keys.

Each action calls the query layer (`secmonkey.api.queries`), as `/api/v1` does, so the
console validates and writes exactly as the REST API (the last-admin-key guard, webhook
URL checks, and so on); `_page.AdminPage` is what the pages share.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from secmonkey.api.web.deps import Admin
from secmonkey.api.web.rendering import root_of
from secmonkey.api.web.routes.admin import (
    accounts,
    allowlist,
    audit_log,
    keys,
    scopes,
    subscriptions,
)

router = APIRouter(prefix="/admin")


@router.get("")
async def admin_home(request: Request, _: Admin) -> Response:
    return RedirectResponse(root_of(request) + "/admin/accounts", status_code=303)


for module in (accounts, allowlist, scopes, subscriptions, keys):
    router.include_router(module.PAGE.router)
router.include_router(audit_log.router)
