"""`secmonkey report`: the audit report as a table, JSON, CSV or HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import console, errors, fail
from secmonkey.client.cli._params import Account, Limit, State


def report_command(
    ctx: typer.Context,
    format: Annotated[
        str, typer.Option("--format", "-f", help="table, json, csv or html")
    ] = "table",
    account: Account = None,
    min_severity: Annotated[str | None, typer.Option("--min-severity")] = None,
    limit: Limit = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None,
) -> None:
    """The audit report: open issues by severity, with counts per account and rule."""
    with State.of(ctx).client() as api:
        if format in ("csv", "html"):
            text = api.report_text(
                format,  # type: ignore[arg-type]
                account_id=account,
                min_severity=min_severity,
                limit=limit,
            )
            if output:
                output.write_text(text, encoding="utf-8")
                errors.print(f"wrote {output}")
            else:
                sys.stdout.write(text)
            return
        if format not in ("table", "json"):
            fail(f"unknown format {format!r}: use table, json, csv or html", 2)
        answer = api.report(account_id=account, min_severity=min_severity, limit=limit)
    if format == "json" or State.of(ctx).json:
        render.print_json(console, answer)
    else:
        render.report(console, answer)
