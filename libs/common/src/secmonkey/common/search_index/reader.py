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
import bisect
import functools
import itertools
import operator
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Literal, NamedTuple

from secmonkey.common.canonical import Rule
from secmonkey.common.cidr import IPNetwork, IPRange, to_hex
from secmonkey.common.search_index import marks
from secmonkey.common.search_index.cache import ReadCache, cache_of
from secmonkey.common.search_index.format import (
    GROUP_IDS,
    LENGTHS_ID,
    LISTED_ID,
    POSTINGS,
    RANGES,
    entry_parts,
    entry_position,
    lengths_field,
    lines_of,
    place_of,
    places_ids,
    posting_id,
    range_id,
    rule_fields,
    shard_id,
)
from secmonkey.common.storage import Capabilities, Database, Store
from secmonkey.common.storage import filters as storage_filters

Direction = Literal["ingress", "egress"]


async def seen_as(db: Database, group_id: str) -> dict[str, dict[str, Any]]:
    """Each item key a group ID was seen under, with its name, account, region, VPC and
    state (`group_ids`, filed by the auditor)."""
    return (await seen_as_each(db, [group_id]))[group_id]


async def seen_as_each(db: Database, group_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """`seen_as` of each group ID, read together (`Store.read`)."""
    docs = await Store(db).read(GROUP_IDS, group_ids)
    return {g: dict(docs.get(g, {}).get("g") or {}) for g in group_ids}


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
    beside: Callable[[str], Awaitable[object]] | None = None,
) -> tuple[list[Hit], str | None]:
    """Rules of active groups whose range contains `network` (or equals it), in item-key
    order, as `Hit`s (`match_fields` makes plain fields of one), by primary-key lookups
    only; and the key to continue after when the page is full. `beside(place)` runs while
    each place's postings are read (the caller's own reads about that place)."""
    cache = cache_of(db.client, db.name)
    start = place_of(after_key) if after_key else ""

    def walk(places_of: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
        """Each place in scope from `start` on, with its candidate ranges, in key order."""
        by_place: dict[str, list[str]] = defaultdict(list)
        for r, places in places_of.items():
            for place in places:
                by_place[place].append(r)
        # Item keys are `<place>:<group id>`: ordering places by `<place>:` orders keys.
        anywhere = account_id is None and region is None
        return [
            (place, by_place[place])
            for place in sorted(by_place, key=lambda p: p + ":")
            if (place + ":") >= (start + ":") and (anywhere or in_scope(place, account_id, region))
        ]

    async def read(place: str, range_ids: list[str]) -> list[Entries]:
        reading = _postings_of(db, cache, tokens, place, range_ids)
        return (await asyncio.gather(reading, beside(place)))[0] if beside else await reading

    # While the directory is checked, the place it most likely leads to first (by what is
    # kept of it) is read, every candidate range of it (a missing posting is an empty
    # one): a page usually ends within its first place.
    candidates, kept_places = _kept_directory(cache, network, mode, direction)
    guess = [place for place, _ in walk(kept_places)[:1]]
    tokens = marks.Reading(db, [marks.DIRECTORY, *guess])  # both marks in one read
    early = asyncio.ensure_future(read(guess[0], candidates)) if guess else None
    try:
        walked = walk(await _directory(db, cache, tokens, network, mode, direction))
    finally:
        read_early = dict(zip(candidates, await early, strict=True)) if early else {}
    found: list[Hit] = []
    next_key: str | None = None
    for n, (place, range_ids) in enumerate(walked):
        if n == 0 and [place] == guess and read_early.keys() >= set(range_ids):
            docs = [read_early[r] for r in range_ids]
        else:
            docs = await read(place, range_ids)
        after = after_key.rsplit(":", 1)[1] if after_key and place_of(after_key) == place else ""
        entries: Entries = []
        for kept in docs:  # each in (group ID, index) order
            entries += kept[bisect.bisect_right(kept, after, key=_group_of) :] if after else kept
        if len(docs) > 1:
            entries.sort()  # a merge of sorted runs, by (group ID, index)
        for _, group in itertools.groupby(entries, key=_group_of):
            if len(docs) > 1:  # one per index (two documents may briefly hold one rule)
                rules = list({index: hit for _, index, hit in group}.values())
            else:
                rules = [hit for _, _, hit in group]  # in index order
            if found and len(found) + len(rules) > limit:
                next_key = hit_key(found[-1])
                break
            found.extend(rules)
            if len(found) >= limit:
                next_key = hit_key(found[-1])
                break
        if next_key:
            break
    return found, next_key


def _wanted(
    lengths_doc: dict[str, Any],
    network: IPNetwork,
    mode: Literal["contains", "exact"],
    direction: Direction | None,
) -> list[str]:
    """The candidate range ids of a search, given the prefix lengths in use."""
    out: list[str] = []
    for way in [direction] if direction else ["ingress", "egress"]:
        lengths = [int(n) for n in lengths_doc.get(lengths_field(way, network.version)) or []]
        out += candidate_ranges(network, mode, way, lengths)
    return out


def _kept_directory(
    cache: ReadCache,
    network: IPNetwork,
    mode: Literal["contains", "exact"],
    direction: Direction | None,
) -> tuple[list[str], dict[str, list[str]]]:
    """The candidate ranges by the lengths kept, and the places of those whose document is
    kept (unchecked: a guess of what is current)."""
    kept = cache.current(marks.DIRECTORY)
    if kept is None or LENGTHS_ID not in kept.docs:
        return [], {}
    ids = _wanted(kept.docs[LENGTHS_ID], network, mode, direction)
    return ids, {r: kept.docs[r] for r in ids if r in kept.docs}


async def _directory(
    db: Database,
    cache: ReadCache,
    tokens: marks.Reading,
    network: IPNetwork,
    mode: Literal["contains", "exact"],
    direction: Direction | None,
) -> dict[str, list[str]]:
    """The places of each candidate range, from what is kept under the directory's mark
    and what it lacks (read together with the mark when something is kept)."""

    def wanted(lengths_doc: dict[str, Any]) -> list[str]:
        return _wanted(lengths_doc, network, mode, direction)

    async def heads(ids: list[str], listed: bool) -> dict[str, list[str]]:
        """The places of each range: the union of its head's (where an older auditor
        listed them) and its shards'. Where heads list their shards (`listed`), the heads
        then the shards they list; else the head and every shard, in one batch."""
        if listed:
            docs = await Store(db).read(RANGES, ids)
            shards = [shard_id(i, n) for i in ids for n in docs.get(i, {}).get("shards") or []]
            docs |= await Store(db).read(RANGES, shards)
        else:
            docs = await Store(db).read(RANGES, [d for i in ids for d in places_ids(i)])
        return {
            i: sorted({p for d in places_ids(i) for p in docs.get(d, {}).get("places") or []})
            for i in ids
        }

    def keep(docs: dict[str, Any], read: dict[str, list[str]], ids: list[str]) -> dict[str, Any]:
        docs.update(read)
        cache.count(marks.DIRECTORY, sum(len(v) + 1 for v in read.values()))
        return {r: docs[r] for r in ids}

    kept = cache.current(marks.DIRECTORY)
    if kept is not None and LENGTHS_ID in kept.docs:
        ids = wanted(kept.docs[LENGTHS_ID])
        unread = [r for r in ids if r not in kept.docs]
        listed = bool(kept.docs.get(LISTED_ID))
        token, read = await asyncio.gather(tokens.token(marks.DIRECTORY), heads(unread, listed))
        if token == kept.token:
            return keep(kept.docs, read, ids)
    # The directory moved on (or nothing is kept): its mark first, then what it covers.
    docs = cache.restart(marks.DIRECTORY, await tokens.token(marks.DIRECTORY))
    found = await Store(db).read(RANGES, [LENGTHS_ID, LISTED_ID])
    docs[LENGTHS_ID] = found.get(LENGTHS_ID) or {}
    docs[LISTED_ID] = LISTED_ID in found
    ids = wanted(docs[LENGTHS_ID])
    return keep(docs, await heads(ids, docs[LISTED_ID]), ids)


async def _postings_of(
    db: Database, cache: ReadCache, tokens: marks.Reading, place: str, range_ids: list[str]
) -> list[Entries]:
    """The entries of the posting documents of `range_ids` in `place`: those kept under the
    place's mark, and the others read (together with the mark when something is kept)."""
    ids = [posting_id(r, place) for r in range_ids]

    async def read(which: list[str]) -> dict[str, Entries]:
        docs = await Store(db).read(POSTINGS, which)
        return {i: _entries(place, i, docs.get(i)) for i in which}

    def keep(docs: dict[str, Any], fresh: dict[str, Entries]) -> list[Entries]:
        docs.update(fresh)
        cache.count(place, sum(len(lines) for lines in fresh.values()))
        return [docs[i] for i in ids]

    kept = cache.current(place)
    if kept is not None:
        unread = [i for i in ids if i not in kept.docs]
        token, fresh = await asyncio.gather(tokens.token(place), read(unread))
        if token == kept.token:
            return keep(kept.docs, fresh)
    docs = cache.restart(place, await tokens.token(place))
    return keep(docs, await read(ids))


def _entries(place: str, doc_id: str, doc: dict[str, Any] | None) -> Entries:
    """A posting document's live lines (tombstones left out) as (group ID, rule index,
    `Hit`), in the document's order."""
    way = doc_id.split(":", 1)[0]
    out: Entries = []
    for line in lines_of(doc):
        group_id, index = entry_position(line)
        if index >= 0:
            out.append((group_id, index, Hit(place, line, way)))
    return out


_group_of = operator.itemgetter(0)


class Hit(NamedTuple):
    """One rule found: its place, its posting line and its direction. The same three
    strings always describe the same match (the line carries the group's revision)."""

    place: str
    line: str
    direction: str


# A posting document as a reader keeps it (`_entries`).
Entries = list[tuple[str, int, Hit]]


def hit_key(hit: Hit) -> str:
    """The item key of a hit's group."""
    return f"{hit.place}:{entry_position(hit.line)[0]}"


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
