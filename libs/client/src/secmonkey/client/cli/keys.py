"""`secmonkey keys`: API keys and their roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import console, done, show
from secmonkey.client.cli._params import State

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List API keys (admin)."""
    with State.of(ctx).client() as api:
        answer = api.keys()
    show(ctx, answer, render.keys(answer))


@app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str,
    role: Annotated[
        str,
        typer.Option("--role", help="viewer, auditor, admin or reviewer (may only review changes)"),
    ] = "viewer",
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="when it stops working: 2030-01-31T00:00:00Z, or 90d"),
    ] = None,
) -> None:
    """Create an API key (admin); the key is printed once."""
    with State.of(ctx).client() as api:
        answer = api.create_key(name, role, _expiry(expires))  # type: ignore[arg-type]
    if State.of(ctx).json:
        render.print_json(console, answer)
        return
    console.print(render.keys([answer]))
    console.print(f"key: [bold]{answer.key}[/]  (shown once: store it now)")


def _expiry(text: str | None) -> datetime | None:
    """`90d` (days from now) or an ISO 8601 time (UTC when it names no zone)."""
    if not text:
        return None
    if text.endswith("d") and text[:-1].isdigit():
        return datetime.now(UTC) + timedelta(days=int(text[:-1]))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--expires: {text!r} is neither 90d nor an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("update")
def keys_update(
    ctx: typer.Context,
    key_id: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    role: Annotated[str | None, typer.Option("--role")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", show_default=False)] = None,
) -> None:
    """Rename a key, change its role, disable or enable it (admin)."""
    with State.of(ctx).client() as api:
        answer = api.update_key(key_id, name=name, role=role, enabled=enabled)  # type: ignore[arg-type]
    show(ctx, answer, render.keys([answer]))


@app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Delete an API key (admin)."""
    with State.of(ctx).client() as api:
        api.delete_key(key_id)
    done(ctx, f"revoked key {key_id}")
