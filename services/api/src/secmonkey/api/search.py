"""Rule search by address or network: one indexed find for candidates, exact matching in Python.

Every stored range comes from a CIDR, so it is an aligned prefix: its `lo` is the query
address masked to the rule's prefix length. The rules that contain a network of prefix
length p therefore have `lo` among the p + 1 maskings of its first address, which makes
"contains" a point lookup of at most 33 (IPv4) or 129 (IPv6) keys in the `ranges.lo`
index; "within" is a range scan of that index; "overlaps" (for prefixes: one contains
the other) is both. The candidates are then checked with `IPRange.matches`, which is the
definition of each mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from secmonkey.api.dialect import Dialect
from secmonkey.api.schemas.groups import RuleView
from secmonkey.api.schemas.search import RuleMatch
from secmonkey.common.canonical import Rule
from secmonkey.common.cidr import IPNetwork, IPRange, MatchMode, to_hex
from secmonkey.common.mongo import Database

Direction = Literal["ingress", "egress"]
PROJECTION = {
    "_id": 1,
    "group_id": 1,
    "name": 1,
    "account_id": 1,
    "account_name": 1,
    "region": 1,
    "vpc_id": 1,
    "ranges": 1,
    "config.rules": 1,
}


def containing_starts(network: IPNetwork) -> list[str]:
    """The `lo` of every aligned prefix that contains `network`, as stored hex."""
    width = network.max_prefixlen
    first = int(network.network_address)
    starts = {(first >> (width - p)) << (width - p) for p in range(network.prefixlen + 1)}
    return [to_hex(s) for s in sorted(starts)]


def candidate_filter(network: IPNetwork, mode: MatchMode, dialect: Dialect) -> dict[str, Any]:
    """A filter on `ranges.lo` returning a superset of the items with a matching range."""
    query = IPRange.of(network)
    contains = {"ranges.lo": {"$in": containing_starts(network)}}
    within = dialect.element_between("ranges", "lo", to_hex(query.first), to_hex(query.last))
    if mode == "exact":
        return {"ranges.lo": to_hex(query.first)}
    if mode == "contains":
        return contains
    if mode == "within":
        return within
    return {"$or": [contains, within]}


@dataclass(frozen=True)
class SearchPage:
    matches: list[RuleMatch]
    next_key: str | None


async def search_rules(
    db: Database,
    dialect: Dialect,
    network: IPNetwork,
    mode: MatchMode,
    *,
    direction: Direction | None = None,
    account_id: str | None = None,
    region: str | None = None,
    after_key: str | None = None,
    limit: int = 1000,
) -> SearchPage:
    """Rules of active groups whose range matches `network` in `mode`, in item-key order.

    A page ends at a group boundary once `limit` rules are collected (a single group with
    more matching rules than `limit` is returned whole); `next_key` then names the last
    group returned.
    """
    query = IPRange.of(network)
    filters: dict[str, Any] = {"state": "active", **candidate_filter(network, mode, dialect)}
    if account_id:
        filters["account_id"] = account_id
    if region:
        filters["region"] = region
    if after_key:
        filters["_id"] = {"$gt": after_key}
    matches: list[RuleMatch] = []
    cursor = db.items.find(filters, PROJECTION).sort("_id", 1).batch_size(200)
    try:
        async for doc in cursor:
            found = _matches_in(doc, query, mode, direction)
            if not found:
                continue
            if matches and len(matches) + len(found) > limit:
                return SearchPage(matches, matches[-1].key)
            matches.extend(found)
            if len(matches) >= limit:
                return SearchPage(matches, doc["_id"])
    finally:
        await cursor.close()
    return SearchPage(matches, None)


def _matches_in(
    doc: dict[str, Any], query: IPRange, mode: MatchMode, direction: Direction | None
) -> list[RuleMatch]:
    rules = (doc.get("config") or {}).get("rules") or []
    found: list[RuleMatch] = []
    seen: set[int] = set()
    for entry in doc.get("ranges") or []:
        if direction is not None and entry.get("direction") != direction:
            continue
        index = int(entry["rule"])
        if index in seen or index >= len(rules):
            continue
        if not IPRange.from_doc(entry).matches(query, mode):
            continue
        seen.add(index)
        found.append(
            RuleMatch(
                key=doc["_id"],
                group_id=doc["group_id"],
                group_name=doc["name"],
                account_id=doc["account_id"],
                account_name=doc.get("account_name"),
                region=doc["region"],
                vpc_id=doc.get("vpc_id"),
                rule=RuleView.of(index, Rule.model_validate(rules[index])),
            )
        )
    found.sort(key=lambda m: m.rule.index)
    return found
