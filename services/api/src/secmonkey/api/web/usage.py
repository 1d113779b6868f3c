"""The group page's rule-usage section: each rule's status, last use, a 90-day sparkline
of hits and its top sources (the collector's summary, through `common`)."""

from __future__ import annotations

from typing import Any

from secmonkey.common.item_keys import item_key
from secmonkey.common.rule_usage import read_summary, sparkline
from secmonkey.common.storage import Database


async def usage_section(
    db: Database, account_id: str, region: str, group_id: str
) -> dict[str, Any] | None:
    summary = await read_summary(db, item_key(account_id, region, group_id))
    if summary is None:
        return None
    return {
        "summary": summary,
        "rows": [(rule, sparkline(rule.days, summary.as_of)) for rule in summary.rules],
    }
