"""The `secmonkey` command: every question an operator asks, from a terminal.

The server and key come from `--url`/`--key` or `SECMONKEY_URL`/`SECMONKEY_API_KEY`;
`--json` prints the API's answer as JSON instead of tables.

One module per resource, as in the API's routes; the commands are gathered here, in the
order `secmonkey --help` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from secmonkey.client.cli import (
    accounts,
    admin_provision,
    admin_secrets,
    allowlist,
    audit_log,
    change_control,
    compliance,
    dead_letters,
    events,
    exposure,
    groups,
    issues,
    keys,
    report,
    search,
    subscriptions,
    sweeps,
    usage,
)
from secmonkey.client.cli._output import errors
from secmonkey.client.cli._params import State
from secmonkey.client.client import DEFAULT_URL
from secmonkey.client.errors import ApiError

app = typer.Typer(
    name="secmonkey",
    help="Query and manage secmonkey: groups, history, search, issues, alerts, dead letters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root_options(
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


app.command("groups")(groups.groups_command)
app.command("resolve")(groups.resolve_command)
app.command("show")(groups.show_command)
app.command("history")(groups.history_command)
app.command("at")(groups.at_command)
app.command("diff")(groups.diff_command)
app.command("usage")(usage.usage_command)
app.command("issues")(issues.issues_command)
app.command("justify")(issues.justify_command)
app.command("report")(report.report_command)
app.command("compliance")(compliance.compliance_command)
app.command("exposure")(exposure.exposure_command)
app.command("events")(events.events_command)
app.command("sweep")(sweeps.sweep_command)
app.command("audit-log")(audit_log.audit_log_command)

app.add_typer(search.app, name="search")
app.add_typer(accounts.app, name="accounts")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(allowlist.app, name="allowlist")
app.add_typer(keys.app, name="keys")
app.add_typer(dead_letters.app, name="dead-letters")
admin_provision.admin_app.command("rotate-secrets")(admin_secrets.rotate_secrets_command)
app.add_typer(admin_provision.admin_app, name="admin")
app.add_typer(change_control.scopes_app, name="scopes")
app.add_typer(change_control.reviews_app, name="reviews")
app.add_typer(change_control.chain_app, name="chain")
app.command("verify")(change_control.verify_command)
app.command("evidence")(change_control.evidence_command)
app.add_typer(compliance.export_app, name="export")


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


__all__ = ["app", "main"]
