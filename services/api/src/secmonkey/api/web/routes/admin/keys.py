"""Admin · API keys: list, create (the key shown once), disable or enable, revoke."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Form, Path, Response

from secmonkey.api.audit import actions
from secmonkey.api.deps import Verifier
from secmonkey.api.queries import keys
from secmonkey.api.schemas.admin import KEY_ID_PATTERN, KeyIn, KeyUpdate, KeyView
from secmonkey.api.web.routes.admin._page import AdminPage, AdminPost, Refused, attempt, build

KeyPath = Annotated[str, Path(pattern=KEY_ID_PATTERN)]

MAX_DAYS = 3650

PAGE = AdminPage(
    "keys", "API keys", rows="keys", listed=keys.list_keys, more=lambda _: {"created": None}
)


@PAGE.router.post("/keys")
async def add_key(
    visit: AdminPost,
    name: Annotated[str, Form(max_length=128)] = "",
    role: Annotated[str, Form(max_length=16)] = "viewer",
    expires_days: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    """A new key is shown once, in place of a notice."""
    try:
        if expires_days.strip() and not (
            expires_days.strip().isdigit() and int(expires_days) <= MAX_DAYS
        ):
            raise Refused(f"expires: 1 to {MAX_DAYS} days, or empty for never", 422)
        days = int(expires_days) if expires_days.strip() else 0
        expires = datetime.now(UTC) + timedelta(days=days) if days else None
        body = build(KeyIn, name=name.strip(), role=role, expires_at=expires)
        created = await attempt(actions.create_key(visit.trail, body))
    except Refused as refusal:
        return await PAGE.refused(visit, refusal)
    return await PAGE.show(visit, created=created)


@PAGE.router.post("/keys/{key_id}/toggle")
async def toggle_key(visit: AdminPost, verifier: Verifier, key_id: KeyPath) -> Response:
    async def toggle() -> KeyView:
        current = await keys.get_key(visit.db, key_id)
        update = KeyUpdate(enabled=not current.enabled)
        return await actions.update_key(
            visit.trail, verifier, visit.caller.principal, key_id, update
        )

    def notice(updated: KeyView) -> str:
        return f"Key {updated.name} {'enabled' if updated.enabled else 'disabled'}."

    return await PAGE.act(visit, toggle, notice)


@PAGE.router.post("/keys/{key_id}/delete")
async def delete_key(visit: AdminPost, verifier: Verifier, key_id: KeyPath) -> Response:
    return await PAGE.act(
        visit,
        lambda: actions.delete_key(visit.trail, verifier, visit.caller.principal, key_id),
        lambda _: "Key revoked.",
    )
