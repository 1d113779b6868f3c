"""Change control: `scopes`, `reviews` (the review queue and decisions), `verify` (the
hash chains, live or from a chain package) and `chain` (export, anchor)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from secmonkey.client import calls, render
from secmonkey.client.cli._output import console, done, fail, show
from secmonkey.client.cli._params import Account, Labels, Limit, State
from secmonkey.common.chain_verify import verify_file

scopes_app = typer.Typer(help="Compliance scopes (pci, sox, hipaa…).", no_args_is_help=True)
reviews_app = typer.Typer(help="Reviews of changes in scope.", no_args_is_help=True)
chain_app = typer.Typer(help="The hash chains: export, anchor.", no_args_is_help=True)
Ticket = Annotated[str | None, typer.Option("--ticket", "-t", help="change ticket, e.g. CHG-1234")]
Comment = Annotated[str | None, typer.Option("--comment", "-c")]


@scopes_app.command("list")
def scopes_list(ctx: typer.Context) -> None:
    """List the scopes."""
    with State.of(ctx).client() as api:
        answer = api.scopes()
    rows = [
        (s.name, ", ".join(s.account_labels), ", ".join(f"{k}={v}" for k, v in s.tags.items()),
         ", ".join(s.vpc_ids + s.group_ids), f"{s.review_hours:g} h", len(s.auto_approvals))
        for s in answer
    ]  # fmt: skip
    cols = ("scope", "account labels", "tags", "VPCs / groups", "review within", "auto rules")
    show(ctx, answer, render.table("Compliance scopes", cols, rows))


@scopes_app.command("put")
def scopes_put(
    ctx: typer.Context,
    name: str,
    label: Labels = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="key=value, repeatable")] = None,
    vpc: Annotated[list[str] | None, typer.Option("--vpc")] = None,
    group: Annotated[list[str] | None, typer.Option("--group")] = None,
    review_hours: Annotated[float, typer.Option("--review-hours")] = 24.0,
    auto_principal: Annotated[
        list[str] | None,
        typer.Option(
            "--auto-approve",
            help="principal ARN (wildcards) whose changes with a ticket approve themselves",
        ),
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create or replace a scope (admin)."""
    tags = {}
    for pair in tag or []:
        if "=" not in pair:
            fail(f"--tag {pair!r}: expected key=value", 2)
        k, v = pair.split("=", 1)
        tags[k] = v
    body = {
        "description": description,
        "account_labels": label or [],
        "tags": tags,
        "vpc_ids": vpc or [],
        "group_ids": group or [],
        "review_hours": review_hours,
        "auto_approvals": [{"principal": p} for p in auto_principal or []],
    }
    with State.of(ctx).client() as api:
        answer = api.put_scope(name, body)
    show(
        ctx,
        answer,
        render.table(None, ("scope", "review within"), [(answer.name, answer.review_hours)]),
    )


@scopes_app.command("remove")
def scopes_remove(ctx: typer.Context, name: str) -> None:
    """Delete a scope (admin)."""
    with State.of(ctx).client() as api:
        api.delete_scope(name)
    done(ctx, f"removed {name}")


@reviews_app.command("list")
def reviews_list(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="pending, approved or rejected")] = "pending",
    scope: Annotated[str | None, typer.Option("--scope")] = None,
    account: Account = None,
    overdue: Annotated[bool, typer.Option("--overdue")] = False,
    limit: Limit = None,
) -> None:
    """The review queue, newest change first."""
    if status not in ("pending", "approved", "rejected"):
        fail(f"--status {status!r}: pending, approved or rejected", 2)
    with State.of(ctx).client() as api:
        page = api.change_reviews(
            status=status,  # type: ignore[arg-type]
            scope=scope,
            account_id=account,
            overdue=overdue or None,
            limit=limit,
        )
    rows = [
        (r.id, ",".join(r.scopes), r.name, r.change_type, render.when(r.observed_at),
         r.changed_by or "", r.status + (" (overdue)" if r.overdue else ""), r.ticket or "")
        for r in page.items
    ]  # fmt: skip
    cols = ("review", "scopes", "group", "change", "at", "by", "status", "ticket")
    show(ctx, page, render.table("Change reviews", cols, rows))


@reviews_app.command("show")
def reviews_show(ctx: typer.Context, review_id: str) -> None:
    """One review: who changed what, and the diff."""
    with State.of(ctx).client() as api:
        answer = api.change_review(review_id)
    lines = [f"{answer.id}  {answer.status}  scopes: {', '.join(answer.scopes)}"]
    lines.append(
        f"changed by: {answer.changed_by or 'unknown'}  at {render.when(answer.observed_at)}"
    )
    lines.extend(f"  {c}" for c in answer.changes)
    show(ctx, answer, lambda out, _: out.print("\n".join(lines), markup=False))


def _decide(
    ctx: typer.Context,
    ids: list[str],
    decision: Literal["approve", "reject"],
    ticket: str | None,
    comment: str | None,
) -> None:
    with State.of(ctx).client() as api:
        if len(ids) == 1:
            one = api.review_change(ids[0], decision, ticket, comment)
            show(ctx, one, lambda out, _: out.print(f"{one.id}: {one.status}", markup=False))
            return
        many = api.review_changes(ids, decision, ticket, comment)
    rows = [(r.id, "ok" if r.ok else "refused", r.status or r.error or "") for r in many]
    show(ctx, many, render.table(None, ("review", "", "status"), rows))


@reviews_app.command("approve")
def reviews_approve(
    ctx: typer.Context, review_ids: list[str], ticket: Ticket = None, comment: Comment = None
) -> None:
    """Approve one or many reviews with one change ticket."""
    if not ticket:
        fail("an approval needs --ticket", 2)
    _decide(ctx, review_ids, "approve", ticket, comment)


@reviews_app.command("reject")
def reviews_reject(ctx: typer.Context, review_ids: list[str], comment: Comment = None) -> None:
    """Reject as unauthorized (opens a high unauthorized-change issue and alerts)."""
    _decide(ctx, review_ids, "reject", None, comment)


def verify_command(
    ctx: typer.Context,
    start: Annotated[datetime | None, typer.Option("--from", help="report breaks from")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="report breaks until")] = None,
    package: Annotated[
        Path | None,
        typer.Option("--package", help="chain.json, or an evidence zip (its manifest checked too)"),
    ] = None,
) -> None:
    """Recompute the hash chains and name every break (exit 1 if any)."""
    if package is not None:
        try:
            answer = verify_file(package, start, end).as_dict()
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            fail(str(exc), 2)
    else:
        with State.of(ctx).client() as api:
            answer = api.verify_chain(start, end).model_dump()
    if State.of(ctx).json:
        render.print_json(console, answer)
    else:
        for b in answer["breaks"]:
            console.print(f"BREAK {b['chain']} {b['record']}: {b['reason']}", markup=False)
        verdict = "intact" if answer["ok"] else f"{len(answer['breaks'])} break(s)"
        console.print(
            f"{answer['groups']} groups, {answer['revisions']} revisions, "
            f"{answer['reviews']} review records, {answer['anchors']} anchor(s): {verdict}",
            markup=False,
        )
    if not answer["ok"]:
        raise typer.Exit(1)


def evidence_command(
    ctx: typer.Context,
    scope: Annotated[str, typer.Argument(help="the compliance scope, e.g. pci")],
    start: Annotated[datetime | None, typer.Option("--from", help="default: 90 days ago")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="default: now")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="the zip to write")] = None,
) -> None:
    """Download the evidence package of a scope and period (auditor; audit-logged)."""
    target = output or Path(f"secmonkey-evidence-{scope}.zip")
    digest = hashlib.sha256()
    size = 0
    with State.of(ctx).client() as api, target.open("wb") as file:
        for chunk in api.stream(calls.evidence(scope, start, end)):
            digest.update(chunk)
            size += len(chunk)
            file.write(chunk)
    done(ctx, f"wrote {target} ({size} bytes, sha256 {digest.hexdigest()})")


@chain_app.command("export")
def chain_export(
    ctx: typer.Context, output: Annotated[Path, typer.Option("--output", "-o")]
) -> None:
    """Write the chain package (chain.json) for `secmonkey verify --package`."""
    with State.of(ctx).client() as api:
        package = api.export_chain()
    output.write_text(json.dumps(package, sort_keys=True))
    done(ctx, f"wrote {output} ({len(package.get('revisions', []))} revisions)")


@chain_app.command("anchor")
def chain_anchor(ctx: typer.Context) -> None:
    """Anchor every chain head now (admin)."""
    with State.of(ctx).client() as api:
        answer = api.anchor_chain()
    show(
        ctx,
        answer,
        render.table(None, ("anchor", "heads", "root"), [(answer.id, answer.count, answer.root)]),
    )
