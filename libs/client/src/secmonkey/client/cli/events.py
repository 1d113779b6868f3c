"""`secmonkey events`: the change and issue feed."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import more, show
from secmonkey.client.cli._params import Account, Cursor, Limit, Region, State


def events_command(
    ctx: typer.Context,
    type: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="e.g. group.changed; repeatable")
    ] = None,
    account: Account = None,
    region: Region = None,
    group: Annotated[str | None, typer.Option(help="sg-…")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 instant")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """The change and issue feed, newest first."""
    with State.of(ctx).client() as api:
        page = api.events(
            type=type,
            account_id=account,
            region=region,
            group_id=group,
            since=since,
            limit=limit,
            cursor=cursor,
        )
    show(ctx, page, render.events(page))
    more(ctx, page.next_cursor)
