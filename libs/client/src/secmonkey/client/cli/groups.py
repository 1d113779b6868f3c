"""Security groups and their history: `groups`, `resolve`, `show`, `history`, `at`, `diff`."""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import more, show
from secmonkey.client.cli._params import Account, Cursor, Limit, Region, State


def groups_command(
    ctx: typer.Context,
    account: Account = None,
    region: Region = None,
    vpc: Annotated[str | None, typer.Option("--vpc")] = None,
    name: Annotated[str | None, typer.Option("--name", help="name prefix, any case")] = None,
    state: Annotated[str, typer.Option("--state", help="active, deleted or all")] = "active",
    min_severity: Annotated[str | None, typer.Option("--min-severity")] = None,
    has_issues: Annotated[
        bool | None, typer.Option("--has-issues/--no-issues", show_default=False)
    ] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """List security groups."""
    with State.of(ctx).client() as api:
        page = api.groups(
            account_id=account,
            region=region,
            vpc_id=vpc,
            name=name,
            state=state,  # type: ignore[arg-type]
            min_severity=min_severity,
            has_issues=has_issues,
            limit=limit,
            cursor=cursor,
        )
    show(ctx, page, render.groups(page))
    more(ctx, page.next_cursor)


def resolve_command(
    ctx: typer.Context, group_ids: Annotated[list[str], typer.Argument(help="sg-… IDs")]
) -> None:
    """Which group is sg-…? Name, account, region, VPC and state of each ID."""
    ids = [i for text in group_ids for i in text.split(",") if i]
    with State.of(ctx).client() as api:
        answer = api.resolve(ids)
    show(ctx, answer, render.resolved(answer))


def show_command(
    ctx: typer.Context, group_id: str, account: Account = None, region: Region = None
) -> None:
    """One group now: configuration, rules, attachments, open issues."""
    with State.of(ctx).client() as api:
        answer = api.group(group_id, account_id=account, region=region)
    show(ctx, answer, render.group_detail)


def history_command(
    ctx: typer.Context,
    group_id: str,
    account: Account = None,
    region: Region = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """A group's revisions, newest first."""
    with State.of(ctx).client() as api:
        page = api.revisions(
            group_id, account_id=account, region=region, limit=limit, cursor=cursor
        )
    show(ctx, page, render.history(page))
    more(ctx, page.next_cursor)


def at_command(
    ctx: typer.Context,
    group_id: str,
    time: Annotated[str, typer.Argument(help="ISO 8601 instant, e.g. 2026-05-01T12:00:00Z")],
    account: Account = None,
    region: Region = None,
) -> None:
    """A group as it was at an instant."""
    with State.of(ctx).client() as api:
        answer = api.at(group_id, time, account_id=account, region=region)
    show(ctx, answer, render.group_at)


def diff_command(
    ctx: typer.Context,
    group_id: str,
    from_: Annotated[str, typer.Argument(metavar="FROM", help="revision number or instant")],
    to: Annotated[
        str | None, typer.Argument(help="revision number or instant; default now")
    ] = None,
    account: Account = None,
    region: Region = None,
) -> None:
    """What changed in a group between two revisions or instants."""
    with State.of(ctx).client() as api:
        answer = api.diff(group_id, from_, to, account_id=account, region=region)
    show(ctx, answer, render.group_diff)
