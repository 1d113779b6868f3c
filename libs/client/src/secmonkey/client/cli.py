"""The `secmonkey` command: every question an operator asks, from a terminal.

The server and key come from `--url`/`--key` or `SECMONKEY_URL`/`SECMONKEY_API_KEY`;
`--json` prints the API's answer as JSON instead of tables.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from secmonkey.client import render
from secmonkey.client.client import DEFAULT_URL, Client
from secmonkey.client.errors import ApiError

app = typer.Typer(
    name="secmonkey",
    help="Query and manage secmonkey: groups, history, search, issues, alerts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
search_app = typer.Typer(help="Find rules by IP address or CIDR.", no_args_is_help=True)
accounts_app = typer.Typer(help="Monitored AWS accounts.", no_args_is_help=True)
subscriptions_app = typer.Typer(help="Who is alerted of what.", no_args_is_help=True)
allowlist_app = typer.Typer(
    help="Named networks whose findings are silenced.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(search_app, name="search")
app.add_typer(accounts_app, name="accounts")
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(allowlist_app, name="allowlist")
app.add_typer(keys_app, name="keys")

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

Account = Annotated[str | None, typer.Option("--account", "-a", help="12-digit account ID")]
Region = Annotated[str | None, typer.Option("--region", "-r", help="e.g. us-east-1")]
Limit = Annotated[int | None, typer.Option("--limit", "-n", help="page size")]
Cursor = Annotated[str | None, typer.Option("--cursor", help="next_cursor of a previous page")]
Direction = Annotated[
    str | None, typer.Option("--direction", "-d", help="ingress or egress", case_sensitive=False)
]


@dataclass
class State:
    url: str
    key: str | None
    json: bool

    def client(self) -> Client:
        return Client(self.url, self.key)


@app.callback()
def _options(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar="SECMONKEY_URL", help="the API's base URL")
    ] = DEFAULT_URL,
    key: Annotated[
        str | None,
        typer.Option("--key", envvar="SECMONKEY_API_KEY", help="API key", show_default=False),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    ctx.obj = State(url=url, key=key, json=json)


def _state(ctx: typer.Context) -> State:
    state: State = ctx.find_root().obj
    return state


def _show(ctx: typer.Context, answer: Any, table: Any = None) -> None:
    """Print `answer` as JSON with --json, else `table` (a renderable or a printing function)."""
    if _state(ctx).json:
        render.print_json(console, answer)
    elif callable(table):
        table(console, answer)
    elif table is not None:
        console.print(table)


def _more(ctx: typer.Context, cursor: str | None) -> None:
    if cursor and not _state(ctx).json:
        errors.print(f"[dim]more: --cursor {cursor}[/]")


def _fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


# groups and history -----------------------------------------------------------------------


@app.command("groups")
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
    with _state(ctx).client() as api:
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
    _show(ctx, page, render.groups(page))
    _more(ctx, page.next_cursor)


@app.command("resolve")
def resolve_command(
    ctx: typer.Context, group_ids: Annotated[list[str], typer.Argument(help="sg-… IDs")]
) -> None:
    """Which group is sg-…? Name, account, region, VPC and state of each ID."""
    ids = [i for text in group_ids for i in text.split(",") if i]
    with _state(ctx).client() as api:
        answer = api.resolve(ids)
    _show(ctx, answer, render.resolved(answer))


@app.command("show")
def show_command(
    ctx: typer.Context, group_id: str, account: Account = None, region: Region = None
) -> None:
    """One group now: configuration, rules, attachments, open issues."""
    with _state(ctx).client() as api:
        answer = api.group(group_id, account_id=account, region=region)
    _show(ctx, answer, render.group_detail)


@app.command("history")
def history_command(
    ctx: typer.Context,
    group_id: str,
    account: Account = None,
    region: Region = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """A group's revisions, newest first."""
    with _state(ctx).client() as api:
        page = api.revisions(
            group_id, account_id=account, region=region, limit=limit, cursor=cursor
        )
    _show(ctx, page, render.history(page))
    _more(ctx, page.next_cursor)


@app.command("at")
def at_command(
    ctx: typer.Context,
    group_id: str,
    time: Annotated[str, typer.Argument(help="ISO 8601 instant, e.g. 2026-05-01T12:00:00Z")],
    account: Account = None,
    region: Region = None,
) -> None:
    """A group as it was at an instant."""
    with _state(ctx).client() as api:
        answer = api.at(group_id, time, account_id=account, region=region)
    _show(ctx, answer, render.group_at)


@app.command("diff")
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
    with _state(ctx).client() as api:
        answer = api.diff(group_id, from_, to, account_id=account, region=region)
    _show(ctx, answer, render.group_diff)


# search -------------------------------------------------------------------------------------


@search_app.command("ip")
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
    with _state(ctx).client() as api:
        answer = api.search_ip(
            ip,
            direction=direction,  # type: ignore[arg-type]
            account_id=account,
            region=region,
            limit=limit,
            cursor=cursor,
        )
    _show(ctx, answer, render.search(answer))
    _more(ctx, answer.next_cursor)


@search_app.command("cidr")
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
    with _state(ctx).client() as api:
        answer = api.search_cidr(
            cidr,
            match,  # type: ignore[arg-type]
            direction=direction,  # type: ignore[arg-type]
            account_id=account,
            region=region,
            limit=limit,
            cursor=cursor,
        )
    _show(ctx, answer, render.search(answer))
    _more(ctx, answer.next_cursor)


# issues, report, events -----------------------------------------------------------------------


@app.command("issues")
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
    with _state(ctx).client() as api:
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
    _show(ctx, page, render.issues(page.items))
    _more(ctx, page.next_cursor)


@app.command("justify")
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
    with _state(ctx).client() as api:
        if withdraw:
            api.unjustify(issue_id)
            answer = api.issue(issue_id)
        else:
            answer = api.justify(issue_id, reason, until)
    _show(ctx, answer, render.issues([answer]))


@app.command("report")
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
    with _state(ctx).client() as api:
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
            _fail(f"unknown format {format!r}: use table, json, csv or html", 2)
        answer = api.report(account_id=account, min_severity=min_severity, limit=limit)
    if format == "json" or _state(ctx).json:
        render.print_json(console, answer)
    else:
        render.report(console, answer)


@app.command("events")
def events_command(
    ctx: typer.Context,
    type: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="e.g. group.changed; repeatable")
    ] = None,
    account: Account = None,
    region: Region = None,
    group: Annotated[str | None, typer.Option(help="sg-…")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 instant")] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> None:
    """The change and issue feed, newest first."""
    with _state(ctx).client() as api:
        page = api.events(
            type=type,
            account_id=account,
            region=region,
            group_id=group,
            since=since,
            limit=limit,
            cursor=cursor,
        )
    _show(ctx, page, render.events(page))
    _more(ctx, page.next_cursor)


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    account_id: Annotated[str | None, typer.Argument(help="default: every enabled account")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", "-r", help="repeatable")] = None,
) -> None:
    """Ask the collectors to sweep now (admin)."""
    with _state(ctx).client() as api:
        answer = api.sweep(account_id, region)
    _show(
        ctx,
        answer,
        render.table(
            "Sweeps queued",
            ["SWEEP ID", "ACCOUNT", "REGIONS"],
            ([s.sweep_id, s.account_id, ",".join(s.regions or []) or "all"] for s in answer.sweeps),
        ),
    )


# administration -----------------------------------------------------------------------------


@accounts_app.command("list")
def accounts_list(ctx: typer.Context) -> None:
    """List accounts."""
    with _state(ctx).client() as api:
        answer = api.accounts()
    _show(ctx, answer, render.accounts(answer))


@accounts_app.command("show")
def accounts_show(ctx: typer.Context, account_id: str) -> None:
    """One account."""
    with _state(ctx).client() as api:
        answer = api.account(account_id)
    _show(ctx, answer, render.accounts([answer]))


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


RoleArn = Annotated[str | None, typer.Option("--role-arn", help="role to assume")]
ExternalId = Annotated[str | None, typer.Option("--external-id")]
Regions = Annotated[list[str] | None, typer.Option("--region", "-r", help="repeatable")]
Labels = Annotated[list[str] | None, typer.Option("--label", "-l", help="repeatable")]
Trusted = Annotated[bool, typer.Option("--trusted/--monitored", help="a friendly account")]
Enabled = Annotated[bool, typer.Option("--enabled/--disabled")]


@accounts_app.command("add")
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
) -> None:
    """Add an account (admin)."""
    body = {"id": account_id} | _account_fields(
        name, role_arn, external_id, region, label, trusted, enabled
    )
    with _state(ctx).client() as api:
        answer = api.create_account(body)
    _show(ctx, answer, render.accounts([answer]))


@accounts_app.command("update")
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
) -> None:
    """Replace an account's settings (admin)."""
    body = _account_fields(name, role_arn, external_id, region, label, trusted, enabled)
    with _state(ctx).client() as api:
        answer = api.update_account(account_id, body)
    _show(ctx, answer, render.accounts([answer]))


@accounts_app.command("remove")
def accounts_remove(ctx: typer.Context, account_id: str) -> None:
    """Remove an account (admin); its history stays."""
    with _state(ctx).client() as api:
        api.delete_account(account_id)
    _done(ctx, f"removed account {account_id}")


def _done(ctx: typer.Context, message: str) -> None:
    if _state(ctx).json:
        render.print_json(console, {"ok": True, "detail": message})
    else:
        console.print(message)


@subscriptions_app.command("list")
def subscriptions_list(ctx: typer.Context) -> None:
    """List subscriptions (admin)."""
    with _state(ctx).client() as api:
        answer = api.subscriptions()
    _show(ctx, answer, render.subscriptions(answer))


@subscriptions_app.command("show")
def subscriptions_show(ctx: typer.Context, subscription_id: str) -> None:
    """One subscription (admin)."""
    with _state(ctx).client() as api:
        answer = api.subscription(subscription_id)
    _show(ctx, answer, render.subscriptions([answer]))


@subscriptions_app.command("add")
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
        _fail("give either --email (repeatable) or --webhook", 2)
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
    with _state(ctx).client() as api:
        answer = api.create_subscription(body)
    _show(ctx, answer, render.subscriptions([answer]))


@subscriptions_app.command("remove")
def subscriptions_remove(ctx: typer.Context, subscription_id: str) -> None:
    """Remove a subscription (admin)."""
    with _state(ctx).client() as api:
        api.delete_subscription(subscription_id)
    _done(ctx, f"removed subscription {subscription_id}")


@subscriptions_app.command("test")
def subscriptions_test(ctx: typer.Context, subscription_id: str) -> None:
    """Send a test notification through this subscription only (admin)."""
    with _state(ctx).client() as api:
        answer = api.test_subscription(subscription_id)
    _show(ctx, answer, render.table(None, ["EVENT", "DETAIL"], [[answer.event_id, answer.detail]]))


@allowlist_app.command("list")
def allowlist_list(ctx: typer.Context) -> None:
    """List the allowlisted networks."""
    with _state(ctx).client() as api:
        answer = api.allowlist()
    _show(ctx, answer, render.allowlist(answer))


@allowlist_app.command("add")
def allowlist_add(
    ctx: typer.Context,
    name: str,
    cidr: str,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Add (or replace) a named network (admin)."""
    with _state(ctx).client() as api:
        answer = api.put_allowlist(name, cidr, description)
    _show(ctx, answer, render.allowlist([answer]))


@allowlist_app.command("remove")
def allowlist_remove(ctx: typer.Context, name: str) -> None:
    """Remove a named network (admin)."""
    with _state(ctx).client() as api:
        api.delete_allowlist(name)
    _done(ctx, f"removed {name}")


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List API keys (admin)."""
    with _state(ctx).client() as api:
        answer = api.keys()
    _show(ctx, answer, render.keys(answer))


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Option("--role", help="viewer, auditor or admin")] = "viewer",
) -> None:
    """Create an API key (admin); the key is printed once."""
    with _state(ctx).client() as api:
        answer = api.create_key(name, role)  # type: ignore[arg-type]
    if _state(ctx).json:
        render.print_json(console, answer)
        return
    console.print(render.keys([answer]))
    console.print(f"key: [bold]{answer.key}[/]  (shown once: store it now)")


@keys_app.command("update")
def keys_update(
    ctx: typer.Context,
    key_id: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    role: Annotated[str | None, typer.Option("--role")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", show_default=False)] = None,
) -> None:
    """Rename a key, change its role, disable or enable it (admin)."""
    with _state(ctx).client() as api:
        answer = api.update_key(key_id, name=name, role=role, enabled=enabled)  # type: ignore[arg-type]
    _show(ctx, answer, render.keys([answer]))


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str) -> None:
    """Delete an API key (admin)."""
    with _state(ctx).client() as api:
        api.delete_key(key_id)
    _done(ctx, f"revoked key {key_id}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `secmonkey`: API errors print their problem details and exit 1."""
    try:
        app(args=argv, prog_name="secmonkey")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except ApiError as exc:
        errors.print(f"[red]error:[/] {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
