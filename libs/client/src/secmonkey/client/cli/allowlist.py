"""`secmonkey allowlist`: named networks whose findings are silenced."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import done, show
from secmonkey.client.cli._params import State

app = typer.Typer(help="Named networks whose findings are silenced.", no_args_is_help=True)


@app.command("list")
def allowlist_list(ctx: typer.Context) -> None:
    """List the allowlisted networks."""
    with State.of(ctx).client() as api:
        answer = api.allowlist()
    show(ctx, answer, render.allowlist(answer))


@app.command("add")
def allowlist_add(
    ctx: typer.Context,
    name: str,
    cidr: str,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Add (or replace) a named network (admin)."""
    with State.of(ctx).client() as api:
        answer = api.put_allowlist(name, cidr, description)
    show(ctx, answer, render.allowlist([answer]))


@app.command("remove")
def allowlist_remove(ctx: typer.Context, name: str) -> None:
    """Remove a named network (admin)."""
    with State.of(ctx).client() as api:
        api.delete_allowlist(name)
    done(ctx, f"removed {name}")
