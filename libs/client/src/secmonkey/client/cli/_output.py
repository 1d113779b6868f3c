"""Where commands print: tables or the API's JSON on stdout, notes and errors on stderr."""

from __future__ import annotations

from typing import Any, NoReturn

import typer
from rich.console import Console

from secmonkey.client import render
from secmonkey.client.cli._params import State

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def show(ctx: typer.Context, answer: Any, table: Any = None) -> None:
    """Print `answer` as JSON with --json, else `table` (a renderable or a printing function)."""
    if State.of(ctx).json:
        render.print_json(console, answer)
    elif callable(table):
        table(console, answer)
    elif table is not None:
        console.print(table)


def more(ctx: typer.Context, cursor: str | None) -> None:
    """Tell a reader of tables how to ask for the next page."""
    if cursor and not State.of(ctx).json:
        errors.print(f"[dim]more: --cursor {cursor}[/]")


def done(ctx: typer.Context, message: str) -> None:
    """Report a command that has no answer of its own (a removal)."""
    if State.of(ctx).json:
        render.print_json(console, {"ok": True, "detail": message})
    else:
        console.print(message)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` as an error and leave with `code` (2: the command line was wrong)."""
    errors.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)
