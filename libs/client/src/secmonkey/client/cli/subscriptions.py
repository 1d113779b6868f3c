"""`secmonkey subscriptions`: who is alerted of what, by email or webhook."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import done, fail, show
from secmonkey.client.cli._params import Labels, Regions, State

app = typer.Typer(help="Who is alerted of what.", no_args_is_help=True)


@app.command("list")
def subscriptions_list(ctx: typer.Context) -> None:
    """List subscriptions (admin)."""
    with State.of(ctx).client() as api:
        answer = api.subscriptions()
    show(ctx, answer, render.subscriptions(answer))


@app.command("show")
def subscriptions_show(ctx: typer.Context, subscription_id: str) -> None:
    """One subscription (admin)."""
    with State.of(ctx).client() as api:
        answer = api.subscription(subscription_id)
    show(ctx, answer, render.subscriptions([answer]))


@app.command("add")
def subscriptions_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[
        list[str] | None, typer.Option("--email", help="recipient; repeatable")
    ] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="https URL")] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="webhook kind: generic, slack or teams")
    ] = "generic",
    secret: Annotated[str | None, typer.Option("--secret", help="HMAC secret (generic)")] = None,
    event_type: Annotated[
        list[str] | None, typer.Option("--event-type", "-t", help="repeatable; e.g. issue.*")
    ] = None,
    account: Annotated[list[str] | None, typer.Option("--account", "-a")] = None,
    label: Labels = None,
    region: Regions = None,
    min_severity: Annotated[str | None, typer.Option("--min-severity")] = None,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="repeatable")] = None,
    digest: Annotated[
        int | None, typer.Option("--digest", help="send a digest every N minutes")
    ] = None,
) -> None:
    """Add a subscription: email recipients or a webhook, with filters (admin)."""
    if bool(email) == bool(webhook):
        fail("give either --email (repeatable) or --webhook", 2)
    channel: dict[str, Any] = (
        {"type": "email", "to": email}
        if email
        else {"type": kind, "url": webhook, "secret": secret}
    )
    body: dict[str, Any] = {
        "name": name,
        "channel": channel,
        "filters": {
            "event_types": event_type or [],
            "account_ids": account or [],
            "account_labels": label or [],
            "regions": region or [],
            "min_severity": min_severity,
            "rule_ids": rule or [],
        },
        "mode": "digest" if digest else "immediate",
    }
    if digest:
        body["digest_minutes"] = digest
    with State.of(ctx).client() as api:
        answer = api.create_subscription(body)
    show(ctx, answer, render.subscriptions([answer]))


@app.command("remove")
def subscriptions_remove(ctx: typer.Context, subscription_id: str) -> None:
    """Remove a subscription (admin)."""
    with State.of(ctx).client() as api:
        api.delete_subscription(subscription_id)
    done(ctx, f"removed subscription {subscription_id}")


@app.command("test")
def subscriptions_test(ctx: typer.Context, subscription_id: str) -> None:
    """Send a test notification through this subscription only (admin)."""
    with State.of(ctx).client() as api:
        answer = api.test_subscription(subscription_id)
    show(ctx, answer, render.table(None, ["EVENT", "DETAIL"], [[answer.event_id, answer.detail]]))
