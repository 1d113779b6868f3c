"""Reading the search index: the rules that match an address or network, and where a
group ID was seen (see README.md).

`contains` and `exact` (and `/search/ip`) are answered from the postings by primary-key
lookups only: the prefix lengths in use, the places (account-regions) of each candidate
range, then the entries of each place in item-key order until the page is full. `within`
and `overlaps` need every range inside the query network, which no set of keys
enumerates: `candidate_filter` is one find on the `ranges.lo` index of `items`.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from typing import Any, Literal

from secmonkey.common.canonical import Rule
from secmonkey.common.cidr import IPNetwork, IPRange, to_hex
from secmonkey.common.search_index.format import (
    GROUP_IDS,
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


async def seen_as(db: Database, group_id: str) -> dict[str, dict[str, Any]]:
    """Each item key a group ID was seen under, with its name, account, region, VPC and
    state (`group_ids`, filed by the auditor)."""
    doc = await db[GROUP_IDS].find_one({"_id": group_id})
    return dict((doc or {}).get("g") or {})


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


async def search_postings(
    db: Database,
    network: IPNetwork,
    mode: Literal["contains", "exact"],
    direction: Direction | None,
    account_id: str | None,
    region: str | None,
    after_key: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Rules of active groups whose range contains `network` (or equals it), in item-key
    order, as plain fields (without account names), by primary-key lookups only; and the
    key to continue after when the page is full."""
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
        if (place + ":") < (start + ":") or not in_scope(place, account_id, region):
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
            found.extend(match_fields(place, *rules[index]) for index in sorted(rules))
            if len(found) >= limit:
                next_key = found[-1]["key"]
                break
        if next_key:
            break
    return found, next_key


def match_fields(place: str, line: str, direction: str) -> dict[str, Any]:
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


def in_scope(place: str, account_id: str | None, region: str | None) -> bool:
    _, account, where = place.split(":", 2)
    return (account_id is None or account == account_id) and (region is None or where == region)
