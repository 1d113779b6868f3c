"""`secmonkey exposure`: what the internet can reach, e.g. `secmonkey exposure --port 22`."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import console
from secmonkey.client.cli._params import Account, Limit, State


def exposure_command(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option("--port", "-p", help="reachable on this port")] = None,
    account: Account = None,
    region: Annotated[str | None, typer.Option("--region")] = None,
    resource_type: Annotated[
        str | None, typer.Option("--type", help="instance, interface or load_balancer")
    ] = None,
    limit: Limit = None,
) -> None:
    """Every instance, interface and load balancer the internet reaches, and through which rule."""
    with State.of(ctx).client() as api:
        answer = api.exposure(
            account_id=account, region=region, port=port, resource_type=resource_type, limit=limit
        )
    if State.of(ctx).json:
        render.print_json(console, answer)
        return
    title = f"reachable from the internet{f' on port {port}' if port is not None else ''}"
    console.print(render.exposure(answer.items, title))
    if answer.next_cursor:
        console.print("[dim]more: narrow the filters or raise --limit[/]")
