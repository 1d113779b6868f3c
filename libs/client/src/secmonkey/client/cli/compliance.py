"""`secmonkey compliance <framework>` (the posture per control and account) and
`secmonkey export ocsf` (every finding as OCSF, streamed to a file or stdout)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from secmonkey.client import calls, render
from secmonkey.client import models as m
from secmonkey.client.cli._output import console, errors, fail
from secmonkey.client.cli._params import Account, State

export_app = typer.Typer(help="Export findings in standard formats.", no_args_is_help=True)
_STATUS_STYLE = {"pass": "green", "fail": "bold red", "not_evaluated": "dim"}


def _status(value: str) -> str:
    style = _STATUS_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def posture_table(answer: m.CompliancePosture) -> Table:
    rows = []
    for control in answer.controls:
        for index, row in enumerate(control.accounts or [None]):
            first = index == 0
            rows.append(
                (
                    control.control if first else "",
                    control.title if first else "",
                    ", ".join(r.id for r in control.rules) if first else "",
                    render.account_text(row.account_id, row.account_name) if row else "",
                    _status(row.status if row else control.status),
                    row.passed if row else "",
                    row.failed if row else "",
                    row.justified if row else "",
                )
            )
    columns = ("control", "title", "rules", "account", "status", "pass", "fail", "justified")
    return render.table(f"{answer.name}", columns, rows)


def compliance_command(
    ctx: typer.Context,
    framework: Annotated[
        str | None,
        typer.Argument(help="cis, pci, hipaa, soc2 or nist-800-53; none: list the frameworks"),
    ] = None,
    account: Account = None,
) -> None:
    """Posture against a compliance framework: each control, its rules, pass/fail per account."""
    state = State.of(ctx)
    with state.client() as api:
        if framework is None:
            listed = api.compliance_frameworks()
            if state.json:
                render.print_json(console, listed)
            else:
                rows = [(f.id, f.name, f.controls) for f in listed]
                console.print(render.table("Frameworks", ("id", "name", "controls"), rows))
            return
        answer = api.compliance(framework, account_id=account)
    if state.json:
        render.print_json(console, answer)
        return
    if answer.catalog_published_at is None:
        errors.print("no auditor has published its rules yet: no controls to show")
    console.print(posture_table(answer))


@export_app.command("ocsf")
def export_ocsf_command(
    ctx: typer.Context,
    finding_class: Annotated[
        str, typer.Option("--class", help="detection (OCSF 2004) or compliance (2003)")
    ] = "detection",
    status: Annotated[
        str | None, typer.Option("--status", help="open, justified, fixed, deleted; default all")
    ] = None,
    account: Account = None,
    compliance: Annotated[str | None, typer.Option("--compliance", help="e.g. pci")] = None,
    min_severity: Annotated[str | None, typer.Option("--min-severity")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to a file")] = None,
) -> None:
    """Every finding as OCSF 1.5, one JSON object per line (NDJSON), streamed."""
    if finding_class not in ("detection", "compliance"):
        fail(f"unknown class {finding_class!r}: use detection or compliance", 2)
    call = calls.export_ocsf(
        finding_class,  # type: ignore[arg-type]
        status=status,
        account_id=account,
        compliance=compliance,
        min_severity=min_severity,
    )
    with State.of(ctx).client() as api:
        if output is None:
            for chunk in api.stream(call):
                sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            return
        written = 0
        with output.open("wb") as file:
            for chunk in api.stream(call):
                written += chunk.count(b"\n")
                file.write(chunk)
        errors.print(f"wrote {written} findings to {output}")
