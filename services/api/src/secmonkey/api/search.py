"""Rule search by address or network.

Every stored range comes from a CIDR, so it is an aligned prefix. The rules that contain a
network of prefix length p (`contains`, and `/search/ip`) have one of its p + 1 maskings
as their range, and `exact` has one candidate range: both are answered from the postings
the auditor files under each range (`secmonkey.common.postings`), by primary-key lookups
only: the prefix lengths in use, the places (account-regions) of each candidate range,
then the entries of each place in item-key order until the page is full.

`within` and `overlaps` need every range inside the query network, which no set of keys
enumerates: they are one find on the `ranges.lo` index of `items` (a range scan on
MongoDB; FerretDB has no such index and scans), the candidates then checked with
`IPRange.matches`, which defines each mode.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from secmonkey.api.schemas.groups import RuleView
from secmonkey.api.schemas.search import RuleMatch
from secmonkey.common.canonical import Rule
from secmonkey.common.cidr import IPNetwork, IPRange, MatchMode, to_hex
from secmonkey.common.postings import (
    LENGTHS_ID,
    POSTINGS,
    RANGES,
    entry_parts,
    entry_position,
    lengths_field,
    lines_of,
    place_of,
    posting_id,
    range_id,
    rule_fields,
)
from secmonkey.common.storage import Capabilities, Database
from secmonkey.common.storage import filters as storage_filters

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


def candidate_filter(
    network: IPNetwork, mode: Literal["within", "overlaps"], capabilities: Capabilities
) -> dict[str, Any]:
    """A filter on `ranges.lo` returning a superset of the items with a matching range."""
    query = IPRange.of(network)
    within = storage_filters.element_between(
        capabilities, "ranges", "lo", to_hex(query.first), to_hex(query.last)
    )
    if mode == "within":
        return within
    return {"$or": [{"ranges.lo": {"$in": containing_starts(network)}}, within]}


@dataclass(frozen=True)
class SearchPage:
    matches: list[RuleMatch]
    next_key: str | None


async def search_rules(
    db: Database,
    capabilities: Capabilities,
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
    if mode in ("contains", "exact"):
        return await _search_postings(
            db, network, mode, direction, account_id, region, after_key, limit
        )
    query = IPRange.of(network)
    filters: dict[str, Any] = {"state": "active", **candidate_filter(network, mode, capabilities)}  # type: ignore[arg-type]
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


def candidate_ranges(
    network: IPNetwork, mode: Literal["contains", "exact"], direction: str, lengths: list[int]
) -> list[str]:
    """The range ids that can match `network`: its maskings to each prefix length in use."""
    if mode == "exact":
        return [range_id(direction, network)] if network.prefixlen in lengths else []
    return [
        range_id(direction, network.supernet(new_prefix=length))
        for length in sorted(set(lengths))
        if length <= network.prefixlen
    ]


async def _search_postings(
    db: Database,
    network: IPNetwork,
    mode: Literal["contains", "exact"],
    direction: Direction | None,
    account_id: str | None,
    region: str | None,
    after_key: str | None,
    limit: int,
) -> SearchPage:
    ranges, postings = db[RANGES], db[POSTINGS]
    directory = await ranges.find_one({"_id": LENGTHS_ID}) or {}
    wanted: list[str] = []
    for way in [direction] if direction else ["ingress", "egress"]:
        lengths = [int(n) for n in directory.get(lengths_field(way, network.version)) or []]
        wanted += candidate_ranges(network, mode, way, lengths)
    heads = await asyncio.gather(*(ranges.find_one({"_id": r}) for r in wanted))
    by_place: dict[str, list[str]] = defaultdict(list)
    for head in heads:
        for place in (head or {}).get("places") or []:
            by_place[place].append(head["_id"])  # type: ignore[index]
    start = place_of(after_key) if after_key else ""
    found: list[dict[str, Any]] = []
    next_key: str | None = None
    # Item keys are `<place>:<group id>`: ordering places by `<place>:` orders their keys.
    for place in sorted(by_place, key=lambda p: p + ":"):
        if (place + ":") < (start + ":") or not _in_scope(place, account_id, region):
            continue
        docs = await asyncio.gather(
            *(postings.find_one({"_id": posting_id(r, place)}) for r in by_place[place])
        )
        # Lines are parsed only when returned: a place may hold thousands.
        groups: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
        after = after_key.rsplit(":", 1)[1] if after_key and place_of(after_key) == place else ""
        for r, doc in zip(by_place[place], docs, strict=True):
            way = r.split(":", 1)[0]
            for line in lines_of(doc):
                group_id, index = entry_position(line)
                if index >= 0 and group_id > after:  # (index -1: a tombstone)
                    groups[group_id][index] = (line, way)
        for group_id in sorted(groups):
            rules = groups[group_id]
            if found and len(found) + len(rules) > limit:
                next_key = found[-1]["key"]
                break
            found.extend(_match_fields(place, *rules[index]) for index in sorted(rules))
            if len(found) >= limit:
                next_key = found[-1]["key"]
                break
        if next_key:
            break
    names = await _account_names(db, {m["account_id"] for m in found})
    for match in found:
        match["account_name"] = names.get(match["account_id"])
    # One validation of plain data in pydantic-core: building each model in Python costs
    # more than the database reads of a 1,000-rule page.
    return SearchPage(_MATCHES.validate_python(found), next_key)


_MATCHES = TypeAdapter(list[RuleMatch])


def _match_fields(place: str, line: str, direction: str) -> dict[str, Any]:
    group_id, index, name, vpc, protocol, low, high, source, description = entry_parts(line)
    _, account, region = place.split(":", 2)
    rule = rule_fields(direction, protocol, low, high, source, description)
    return {
        "key": f"{place}:{group_id}",
        "group_id": group_id,
        "group_name": name,
        "account_id": account,
        "region": region,
        "vpc_id": vpc or None,
        "rule": rule
        | {"index": int(index), "text": _rule_text(direction, protocol, low, high, source)},
    }


@functools.lru_cache(maxsize=4096)
def _rule_text(direction: str, protocol: str, low: str, high: str, source: str) -> str:
    return Rule.model_validate(rule_fields(direction, protocol, low, high, source)).text()


async def _account_names(db: Database, accounts: set[str]) -> dict[str, str | None]:
    ordered = sorted(accounts)
    docs = await asyncio.gather(*(db.accounts.find_one({"_id": a}, {"name": 1}) for a in ordered))
    return {a: (d or {}).get("name") for a, d in zip(ordered, docs, strict=True)}


def _in_scope(place: str, account_id: str | None, region: str | None) -> bool:
    _, account, where = place.split(":", 2)
    return (account_id is None or account == account_id) and (region is None or where == region)
