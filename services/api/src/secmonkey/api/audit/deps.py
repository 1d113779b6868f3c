"""The `Trail` of a REST request: its caller (checked for a role), client address and outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from secmonkey.api.audit.trail import Actor, Trail, Via
from secmonkey.api.auth import Principal
from secmonkey.api.client_address import address_of
from secmonkey.api.deps import Db, OutboxDep, require
from secmonkey.common.documents import Role
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database


def trail_of(
    request: Request, db: Database, outbox: Outbox, principal: Principal, via: Via
) -> Trail:
    return Trail(db, outbox, Actor.of(principal), address_of(request), via, principal)


def trail_for(role: Role) -> Callable[..., Awaitable[Trail]]:
    """A dependency: the caller's key must have `role`; the change is recorded under it."""

    checked = require(role)

    # `checked` is local to this function, so it cannot appear in a (string) annotation
    async def dependency(
        request: Request,
        db: Db,
        outbox: OutboxDep,
        principal: Principal = Depends(checked),  # noqa: B008
    ) -> Trail:
        return trail_of(request, db, outbox, principal, "api")

    return dependency


AdminTrail = Annotated[Trail, Depends(trail_for("admin"))]
AuditorTrail = Annotated[Trail, Depends(trail_for("auditor"))]


def console_trail(request: Request, db: Database, principal: Principal) -> Trail:
    """The `Trail` of a console form post (the API's outbox is shared through `state`)."""
    outbox: Outbox = request.app.state.outbox
    return trail_of(request, db, outbox, principal, "sso" if principal.user else "console")
