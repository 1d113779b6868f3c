"""Audit issues: `issues` lists them, `justify` accepts or un-accepts one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import more, show
from secmonkey.client.cli._params import Account, Cursor, Limit, Region, State


def issues_command(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, justified, fixed, deleted or all")] = "open",
    severity: Annotated[str | None, typer.Option(help="exactly this severity")] = None,
    min_severity: Annotated[str | None, typer.Option("--min-severity")] = None,
    rule: Annotated[str | None, typer.Option(help="rule ID, e.g. internet-admin-port")] = None,
    account: Account = None,
    region: Region = None,
    group: Annotated[str | None, typer.Option(help="sg-…")] = None,
    compliance: Annotated[str | None, typer.Option(help="framework, e.g. cis")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """Audit issues, most severe first."""
    with State.of(ctx).client() as api:
        page = api.issues(
            status=status,
            severity=severity,
            min_severity=min_severity,
            rule_id=rule,
            account_id=account,
            region=region,
            group_id=group,
            compliance=compliance,
            limit=limit,
            cursor=cursor,
        )
    show(ctx, page, render.issues(page.items))
    more(ctx, page.next_cursor)


def justify_command(
    ctx: typer.Context,
    issue_id: str,
    reason: Annotated[str, typer.Option("--reason", help="why the finding is accepted")],
    until: Annotated[
        datetime | None, typer.Option(help="expiry (ISO 8601); default: never")
    ] = None,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="remove the justification instead")
    ] = False,
) -> None:
    """Accept a finding (auditor role), or withdraw its justification."""
    with State.of(ctx).client() as api:
        if withdraw:
            api.unjustify(issue_id)
            answer = api.issue(issue_id)
        else:
            answer = api.justify(issue_id, reason, until)
    show(ctx, answer, render.issues([answer]))
