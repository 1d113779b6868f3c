"""`usage`: each ingress rule's use from VPC flow logs."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from secmonkey.client import models as m
from secmonkey.client.cli._output import show
from secmonkey.client.cli._params import Account, Region, State
from secmonkey.common.rule_usage import sparkline


def render_usage(console: Console, usage: m.GroupUsage) -> None:
    if not usage.read or usage.as_of is None:
        console.print(f"{usage.group_id}: no flow log has been read for this group")
        return
    logged = (
        f"every interface logged since {usage.covered_since:%Y-%m-%d}"
        if usage.covered_since
        else f"not every interface is logged ({', '.join(usage.uncovered) or 'none attached'})"
    )
    console.print(f"{usage.group_id}  {usage.interfaces} interface(s), {logged}")
    table = Table("RULE", "STATUS", "LAST USED", "HITS 30D", "90 DAYS", "SOURCES")
    for rule in usage.rules:
        sources = f"{'~' if rule.approximate else ''}{rule.distinct_sources}"
        if rule.top_sources:
            sources += ": " + ", ".join(c.source for c in rule.top_sources[:3])
        table.add_row(
            rule.rule,
            rule.status,
            f"{rule.last_used:%Y-%m-%d %H:%M}" if rule.last_used else "-",
            str(rule.hits),
            sparkline(rule.days, usage.as_of, 30),
            sources,
        )
    console.print(table)


def usage_command(
    ctx: typer.Context, group_id: str, account: Account = None, region: Region = None
) -> None:
    """Each ingress rule's use from VPC flow logs: status, last use, hits, sources."""
    with State.of(ctx).client() as api:
        answer = api.usage(group_id, account_id=account, region=region)
    show(ctx, answer, render_usage)
