"""`secmonkey audit-log`: who changed what, when and from where (admin)."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import more, show
from secmonkey.client.cli._params import Cursor, Limit, State


def audit_log_command(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option(help="e.g. key.created")] = None,
    actor: Annotated[str | None, typer.Option(help="a key id or an SSO user id")] = None,
    target: Annotated[str | None, typer.Option(help="a key id, an account id, a name…")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 instant")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """The audit log, newest first (admin)."""
    with State.of(ctx).client() as api:
        page = api.audit_log(
            action=action, actor=actor, target=target, since=since, limit=limit, cursor=cursor
        )
    show(ctx, page, render.audit_log(page))
    more(ctx, page.next_cursor)
