"""`secmonkey search ip|cidr`: rules found by address or network."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import more, show
from secmonkey.client.cli._params import Account, Cursor, Direction, Limit, Region, State

app = typer.Typer(help="Find rules by IP address or CIDR.", no_args_is_help=True)


@app.command("ip")
def search_ip_command(
    ctx: typer.Context,
    ip: str,
    direction: Direction = None,
    account: Account = None,
    region: Region = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """Every rule whose range contains the address."""
    with State.of(ctx).client() as api:
        answer = api.search_ip(
            ip,
            direction=direction,  # type: ignore[arg-type]
            account_id=account,
            region=region,
            limit=limit,
            cursor=cursor,
        )
    show(ctx, answer, render.search(answer))
    more(ctx, answer.next_cursor)


@app.command("cidr")
def search_cidr_command(
    ctx: typer.Context,
    cidr: str,
    match: Annotated[
        str, typer.Option("--match", "-m", help="exact, contains, within or overlaps")
    ] = "contains",
    direction: Direction = None,
    account: Account = None,
    region: Region = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """Every rule whose range is, contains, lies within or overlaps the network."""
    with State.of(ctx).client() as api:
        answer = api.search_cidr(
            cidr,
            match,  # type: ignore[arg-type]
            direction=direction,  # type: ignore[arg-type]
            account_id=account,
            region=region,
            limit=limit,
            cursor=cursor,
        )
    show(ctx, answer, render.search(answer))
    more(ctx, answer.next_cursor)
