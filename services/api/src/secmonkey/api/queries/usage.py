"""A group's rule usage (the collector's `rule_usage_summary`, through `common`)."""

from __future__ import annotations

from secmonkey.api.queries.groups import find_item
from secmonkey.api.schemas.usage import GroupUsage
from secmonkey.common.rule_usage import read_summary
from secmonkey.common.storage import Database


async def group_usage(
    db: Database, group_id: str, account_id: str | None = None, region: str | None = None
) -> GroupUsage:
    """Per ingress rule: status, last use, hits per day (90 days), sources."""
    item = await find_item(
        db, group_id, account_id, region, {"_id": 1, "account_id": 1, "region": 1}
    )
    key = str(item["_id"])
    base = {
        "key": key,
        "group_id": group_id,
        "account_id": item["account_id"],
        "region": item["region"],
    }
    summary = await read_summary(db, key)
    if summary is None:
        return GroupUsage(**base, read=False)
    return GroupUsage(
        **base,
        read=True,
        as_of=summary.as_of,
        interfaces=summary.interfaces,
        uncovered=summary.uncovered,
        covered_since=summary.covered_since,
        rules=summary.rules,
    )
