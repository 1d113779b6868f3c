"""How the `secmonkey` command shows answers: rich tables, or the API's JSON with `--json`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from secmonkey.client import models as m

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(jsonable(value)), highlight=False)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def severity(value: str | None) -> str:
    if not value:
        return ""
    style = SEVERITY_STYLE.get(str(value), "")
    return f"[{style}]{value}[/]" if style else str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    out = Table(title=title, title_justify="left", show_lines=False, header_style="bold")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


def account_text(account_id: str, account_name: str | None) -> str:
    return f"{account_name} ({account_id})" if account_name else account_id


def groups(page: m.GroupPage) -> Table:
    return table(
        None,
        ["NAME", "GROUP ID", "ACCOUNT", "REGION", "VPC", "STATE", "RULES", "ISSUES", "WORST"],
        (
            [
                g.name,
                g.group_id,
                account_text(g.account_id, g.account_name),
                g.region,
                g.vpc_id,
                g.state,
                g.rule_count,
                g.open_issues,
                severity(g.max_severity),
            ]
            for g in page.items
        ),
    )


def resolved(answer: m.ResolveResponse) -> Table:
    rows: list[list[Any]] = []
    for result in answer.results:
        if not result.found:
            rows.append([result.group_id, "[dim]unknown[/]", "", "", "", ""])
        for g in result.matches:
            state = g.state + (f" {when(g.deleted_at)}" if g.deleted_at else "")
            rows.append(
                [
                    g.group_id,
                    g.name,
                    account_text(g.account_id, g.account_name),
                    g.region,
                    g.vpc_id,
                    state,
                ]
            )
    return table(None, ["GROUP ID", "NAME", "ACCOUNT", "REGION", "VPC", "STATE"], rows)


def rules(items: Sequence[m.RuleView], title: str | None = "Rules") -> Table:
    return table(
        title,
        ["#", "DIRECTION", "PORTS", "SOURCE", "DESCRIPTION"],
        ([r.index, r.direction, _ports(r), _source(r), r.description] for r in items),
    )


def _ports(rule: m.RuleView) -> str:
    # "ingress tcp/22 from 0.0.0.0/0" -> "tcp/22"
    parts = rule.text.split(" ")
    return parts[1] if len(parts) > 1 else rule.protocol


def _source(rule: m.RuleView) -> str:
    return rule.source + (f" (acct {rule.source_account})" if rule.source_account else "")


def issues(items: Sequence[m.IssueView], title: str | None = None) -> Table:
    return table(
        title,
        ["SEVERITY", "RULE", "GROUP", "ACCOUNT", "REGION", "FINDING", "STATUS", "ID"],
        (
            [
                severity(i.severity),
                i.rule_id,
                f"{i.group_name} ({i.group_id})",
                i.account_id,
                i.region,
                i.message,
                i.status,
                i.id,
            ]
            for i in items
        ),
    )


def exposure(items: Sequence[m.ExposedEndpoint], title: str | None = None) -> Table:
    return table(
        title,
        ["RESOURCE", "ADDRESS", "PORTS", "RULE", "VIA", "GROUP", "ACCOUNT", "REGION"],
        (
            [
                f"{e.resource_id} ({e.resource_type})",
                e.address,
                e.ports,
                e.rule_text,
                e.route,
                f"{e.group_name} ({e.group_id})",
                e.account_id,
                e.region,
            ]
            for e in items
        ),
    )


def group_detail(console: Console, g: m.GroupDetail) -> None:
    console.print(f"[bold]{g.name}[/] {g.group_id}  ({g.state})")
    console.print(f"account  {account_text(g.account_id, g.account_name)}")
    console.print(f"region   {g.region}   vpc {g.vpc_id or '-'}")
    if g.description:
        console.print(f"desc     {g.description}")
    console.print(
        f"seen     {when(g.first_seen)} → {when(g.last_seen)}; "
        f"last changed {when(g.last_changed)}; revisions {g.revisions}"
    )
    if g.deleted_at:
        console.print(f"[red]deleted  {when(g.deleted_at)}[/]")
    exposure = "unattached"
    if g.attachments.interface_count:
        exposure = f"{g.attachments.interface_count} interface(s)"
        exposure += ", public IP" if g.attachments.public_ip else ", private only"
    console.print(f"attached {exposure}")
    if g.attachments.users:
        console.print("used by  " + ", ".join(g.attachments.users))
    if g.attachments.endpoints is not None:
        reachable = [e.text() for e in g.attachments.endpoints]
        console.print("exposed  " + ("; ".join(reachable) or "nothing reachable from the internet"))
    if g.config.tags:
        console.print("tags     " + ", ".join(f"{k}={v}" for k, v in g.config.tags.items()))
    console.print(rules(g.rules))
    if g.issues:
        console.print(issues(g.issues, "Issues"))


def history(page: m.RevisionPage) -> Table:
    return table(
        None,
        ["SEQ", "CHANGE", "OBSERVED", "CHANGES"],
        ([r.seq, r.change_type, when(r.observed_at), "\n".join(r.changes)] for r in page.items),
    )


def group_at(console: Console, answer: m.GroupAt) -> None:
    until = when(answer.valid_until) if answer.valid_until else "now"
    console.print(
        f"[bold]{answer.config.name}[/] {answer.group_id} at {when(answer.at)}: "
        f"revision {answer.seq} ({answer.change_type}), in force {when(answer.observed_at)} → {until}"
    )
    console.print(rules(answer.rules))


def group_diff(console: Console, answer: m.GroupDiff) -> None:
    console.print(
        f"{answer.group_id}: revision {answer.from_.seq} ({when(answer.from_.observed_at)}) → "
        f"revision {answer.to.seq} ({when(answer.to.observed_at)})"
    )
    if not answer.changes:
        console.print("no changes")
    for line in answer.changes:
        style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
        console.print(f"[{style}]{line}[/]" if style else line, highlight=False, markup=bool(style))


def search(answer: m.SearchResult) -> Table:
    return table(
        f"{len(answer.results)} rule(s) {answer.match} {answer.query}",
        ["GROUP", "NAME", "ACCOUNT", "REGION", "VPC", "RULE"],
        (
            [
                r.group_id,
                r.group_name,
                account_text(r.account_id, r.account_name),
                r.region,
                r.vpc_id,
                r.rule.text,
            ]
            for r in answer.results
        ),
    )


def report(console: Console, answer: m.Report) -> None:
    counts = ", ".join(f"{severity(k)} {v}" for k, v in answer.by_severity.items())
    console.print(f"[bold]{answer.open_issues} open issues[/]: {counts}")
    columns = ["NAME", "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO", "TOTAL"]
    for title, rows in (("By account", answer.by_account), ("By rule", answer.by_rule)):
        console.print(
            table(
                title,
                columns,
                ([r.name, r.critical, r.high, r.medium, r.low, r.info, r.total] for r in rows),
            )
        )
    more = " (most severe first; more exist)" if answer.truncated else ""
    console.print(issues(answer.issues, f"Issues{more}"))
    if answer.exposed_endpoints:
        shown = f" ({len(answer.exposure)} shown)" if answer.exposure else ""
        title = f"Exposure: {answer.exposed_endpoints} reachable endpoint(s){shown}"
        console.print(exposure(answer.exposure, title))


def events(page: m.EventPage) -> Table:
    rows = []
    for e in page.items:
        detail = e.issue.message if e.issue else "; ".join(e.changes)
        if e.system is not None:  # secmonkey's own health: no group
            detail = f"{e.system.subject}: {e.system.detail}"
        rows.append(
            [
                when(e.at),
                e.type,
                f"{e.name} ({e.group_id})" if e.group_id else "",
                account_text(e.account_id, e.account_name) if e.account_id else "",
                e.region or "",
                detail,
            ]
        )
    return table(None, ["AT", "TYPE", "GROUP", "ACCOUNT", "REGION", "DETAIL"], rows)


def accounts(items: Sequence[m.Account]) -> Table:
    return table(
        None,
        ["ID", "NAME", "ROLE", "EXTERNAL ID", "REGIONS", "LABELS", "TRUSTED", "ENABLED"],
        (
            [
                a.id,
                a.name,
                a.role_arn,
                "set" if a.external_id_set else "-",
                ",".join(a.regions) if a.regions else "all",
                ",".join(a.labels),
                "yes" if a.trusted else "no",
                "yes" if a.enabled else "no",
            ]
            for a in items
        ),
    )


def subscriptions(items: Sequence[m.Subscription]) -> Table:
    rows = []
    for s in items:
        target = ", ".join(s.channel.to) if s.channel.type == "email" else s.channel.url or ""
        f = s.filters
        filters = "; ".join(
            text
            for text in (
                ",".join(f.event_types),
                ",".join(f.account_ids + f.account_labels),
                ",".join(f.regions),
                f">= {f.min_severity}" if f.min_severity else "",
                ",".join(f.rule_ids),
            )
            if text
        )
        mode = s.mode if s.mode == "immediate" else f"digest {s.digest_minutes}m"
        rows.append(
            [s.id, s.name, s.channel.type, target, filters or "everything", mode, s.enabled]
        )
    return table(None, ["ID", "NAME", "CHANNEL", "TARGET", "FILTERS", "MODE", "ENABLED"], rows)


def allowlist(items: Sequence[m.AllowlistEntry]) -> Table:
    return table(
        None, ["NAME", "CIDR", "DESCRIPTION"], ([e.name, e.cidr, e.description] for e in items)
    )


def keys(items: Sequence[m.ApiKey]) -> Table:
    return table(
        None,
        ["ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "EXPIRES", "ENABLED"],
        (
            [
                k.id,
                k.name,
                k.role,
                k.prefix + "…",
                when(k.created_at),
                when(k.last_used_at),
                when(k.expires_at) if k.expires_at else "never",
                k.enabled,
            ]
            for k in items
        ),
    )


def audit_log(page: m.AuditPage) -> Table:
    return table(
        None,
        ["WHEN", "ACTION", "TARGET", "WHO", "FROM", "SEVERITY", "DETAIL"],
        (
            [
                when(e.at),
                e.action,
                e.target,
                f"{e.actor.name} ({e.actor.kind} {e.actor.id})",
                f"{e.client or ''} {e.via}".strip(),
                e.severity.value,
                e.detail,
            ]
            for e in page.items
        ),
    )
