"""`secmonkey accounts`: the monitored AWS accounts."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from secmonkey.client import render
from secmonkey.client.cli._output import done, show
from secmonkey.client.cli._params import Labels, Regions, State

app = typer.Typer(help="Monitored AWS accounts.", no_args_is_help=True)

RoleArn = Annotated[str | None, typer.Option("--role-arn", help="role to assume")]
ExternalId = Annotated[str | None, typer.Option("--external-id")]
Trusted = Annotated[bool, typer.Option("--trusted/--monitored", help="a friendly account")]
Enabled = Annotated[bool, typer.Option("--enabled/--disabled")]
HubRole = Annotated[
    str | None,
    typer.Option("--security-hub-role", help="opt in: the account's writer role for Security Hub"),
]
HubRegion = Annotated[
    str | None, typer.Option("--security-hub-region", help="import there (default: each group's)")
]


def _security_hub(role: str | None, region: str | None) -> dict[str, Any]:
    return {"security_hub": {"role_arn": role, "region": region}} if role else {}


@app.command("list")
def accounts_list(ctx: typer.Context) -> None:
    """List accounts."""
    with State.of(ctx).client() as api:
        answer = api.accounts()
    show(ctx, answer, render.accounts(answer))


@app.command("show")
def accounts_show(ctx: typer.Context, account_id: str) -> None:
    """One account."""
    with State.of(ctx).client() as api:
        answer = api.account(account_id)
    show(ctx, answer, render.accounts([answer]))


def _account_fields(
    name: str,
    role_arn: str | None,
    external_id: str | None,
    region: list[str] | None,
    label: list[str] | None,
    trusted: bool,
    enabled: bool,
) -> dict[str, Any]:
    return {
        "name": name,
        "role_arn": role_arn,
        "external_id": external_id,
        "regions": region or None,
        "labels": label or [],
        "trusted": trusted,
        "enabled": enabled,
    }


@app.command("add")
def accounts_add(
    ctx: typer.Context,
    account_id: str,
    name: Annotated[str, typer.Option("--name")],
    role_arn: RoleArn = None,
    external_id: ExternalId = None,
    region: Regions = None,
    label: Labels = None,
    trusted: Trusted = False,
    enabled: Enabled = True,
    security_hub_role: HubRole = None,
    security_hub_region: HubRegion = None,
) -> None:
    """Add an account (admin)."""
    body = {"id": account_id} | _account_fields(
        name, role_arn, external_id, region, label, trusted, enabled
    )
    body |= _security_hub(security_hub_role, security_hub_region)
    with State.of(ctx).client() as api:
        answer = api.create_account(body)
    show(ctx, answer, render.accounts([answer]))


@app.command("update")
def accounts_update(
    ctx: typer.Context,
    account_id: str,
    name: Annotated[str, typer.Option("--name")],
    role_arn: RoleArn = None,
    external_id: ExternalId = None,
    region: Regions = None,
    label: Labels = None,
    trusted: Trusted = False,
    enabled: Enabled = True,
    security_hub_role: HubRole = None,
    security_hub_region: HubRegion = None,
) -> None:
    """Replace an account's settings (admin)."""
    body = _account_fields(name, role_arn, external_id, region, label, trusted, enabled)
    body |= _security_hub(security_hub_role, security_hub_region)
    with State.of(ctx).client() as api:
        answer = api.update_account(account_id, body)
    show(ctx, answer, render.accounts([answer]))


@app.command("remove")
def accounts_remove(ctx: typer.Context, account_id: str) -> None:
    """Remove an account (admin); its history stays."""
    with State.of(ctx).client() as api:
        api.delete_account(account_id)
    done(ctx, f"removed account {account_id}")


@app.command("discover")
def accounts_discover(
    ctx: typer.Context,
    wait: Annotated[
        float, typer.Option("--wait", help="seconds to wait for the collector's answer (0: none)")
    ] = 60.0,
) -> None:
    """Enrol the AWS organization's accounts now (admin): active ones enrolled, closed ones
    disabled, labels from tags (the collector's organization settings)."""
    with State.of(ctx).client() as api:
        answer = api.discover()
        deadline = time.monotonic() + wait
        while answer.status == "pending" and time.monotonic() < deadline:
            time.sleep(1.0)
            answer = api.discovery(answer.request_id)
    summary = {
        "pending": f"request {answer.request_id} is pending: no collector with organization "
        "discovery configured has answered yet",
        "done": f"{answer.listed} account(s) in the organization; enrolled: "
        f"{', '.join(answer.enrolled) or 'none'}; disabled: {', '.join(answer.disabled) or 'none'}",
        "failed": f"discovery failed: {answer.error}",
    }[answer.status]
    show(ctx, answer, summary)
    if answer.status == "failed":
        raise typer.Exit(1)
