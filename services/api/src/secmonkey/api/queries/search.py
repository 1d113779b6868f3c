"""Rule search by address or network: the search index's reader
(`secmonkey.common.search_index.reader`) shaped into the API's answers. `contains` and
`exact` come from the postings by primary key; `within` and `overlaps` from one find on
the `ranges.lo` index of `items`, the candidates then checked with `IPRange.matches`,
which defines each mode."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, TypeAdapter

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.api.schemas.groups import RuleView
from secmonkey.api.schemas.search import RuleMatch, SearchResult
from secmonkey.common.canonical import Rule
from secmonkey.common.cidr import IPNetwork, IPRange, MatchMode
from secmonkey.common.search_index.reader import (
    Direction,
    Hit,
    candidate_filter,
    match_fields,
    search_postings,
)
from secmonkey.common.storage import Capabilities, Database, Store

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


# `within` and `overlaps` walk candidate groups and check each: `::/0 within` would walk
# the whole estate. A page stops after this many groups examined (a setting of the API).
MAX_SCANNED = 5000


@dataclass(frozen=True)
class SearchPage:
    matches: list[RuleMatch]
    next_key: str | None
    partial: bool = False
    scanned: int | None = None


class _KeyCursor(BaseModel):
    k: str


async def search_json(
    db: Database,
    capabilities: Capabilities,
    network: IPNetwork,
    mode: MatchMode,
    *,
    searched: str,
    direction: Direction | None = None,
    account_id: str | None = None,
    region: str | None = None,
    cursor: str | None = None,
    limit: int = 1000,
    max_scanned: int = MAX_SCANNED,
) -> str:
    """A page of `search_rules` as the REST API answers it, serialised (a `SearchResult`):
    `searched` (the query as normalised) and an opaque cursor naming the last group
    returned. A page holds up to 10,000 rules: from the postings, each match is written
    from its JSON kept by content (`_fragment`), not built, validated and dumped again."""
    position = decode_cursor(cursor, _KeyCursor)
    after_key = position.k if position else None
    if mode in ("contains", "exact"):
        named: dict[str, str] = {}

        async def name_of(place: str) -> None:  # read beside the place's postings
            account = place.split(":", 2)[1]
            if account not in named:
                names = await _account_names(db, {account})
                named[account] = _NAME.dump_json(names[account]).decode()

        hits, next_key = await search_postings(
            db, network, mode, direction, account_id, region, after_key, limit, name_of
        )
        frame = _result(searched, mode, SearchPage([], next_key)).model_dump_json()
        results = ",".join(_fragments(hits, named))
        # The first `"results":[]` is the field: a string before it cannot hold `"` unescaped.
        return frame.replace('"results":[]', f'"results":[{results}]', 1)
    page = await search_rules(
        db,
        capabilities,
        network,
        mode,
        direction=direction,
        account_id=account_id,
        region=region,
        after_key=after_key,
        limit=limit,
        max_scanned=max_scanned,
    )
    return _result(searched, mode, page).model_dump_json()


def _result(searched: str, mode: MatchMode, page: SearchPage) -> SearchResult:
    return SearchResult(
        query=searched,
        match=mode,
        results=page.matches,
        next_cursor=encode_cursor(_KeyCursor(k=page.next_key)) if page.next_key else None,
        partial=page.partial,
        scanned=page.scanned,
    )


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
    max_scanned: int = MAX_SCANNED,
) -> SearchPage:
    """Rules of active groups whose range matches `network` in `mode`, in item-key order.

    A page ends at a group boundary once `limit` rules are collected (a single group with
    more matching rules than `limit` is returned whole); `next_key` then names the last
    group returned. A walk (`within`, `overlaps`) also ends after `max_scanned` groups
    examined: the page is then `partial`, and `next_key` names the last group examined.
    """
    if mode in ("contains", "exact"):
        hits, next_key = await search_postings(
            db, network, mode, direction, account_id, region, after_key, limit
        )
        names = await _account_names(db, {_account_of(h) for h in hits})
        plain = [match_fields(*h) | {"account_name": names[_account_of(h)]} for h in hits]
        # One validation of plain data in pydantic-core: building each model in Python
        # costs more than the database reads of a 1,000-rule page.
        return SearchPage(_MATCHES.validate_python(plain), next_key)
    query = IPRange.of(network)
    filters: dict[str, Any] = {"state": "active", **candidate_filter(network, mode, capabilities)}  # type: ignore[arg-type]
    if account_id:
        filters["account_id"] = account_id
    if region:
        filters["region"] = region
    if after_key:
        filters["_id"] = {"$gt": after_key}
    matches: list[RuleMatch] = []
    scanned = 0
    last_key: str | None = None
    cursor = db.items.find(filters, PROJECTION).sort("_id", 1).batch_size(200)
    try:
        async for doc in cursor:
            if scanned >= max_scanned:
                return SearchPage(matches, last_key, partial=True, scanned=scanned)
            scanned += 1
            last_key = str(doc["_id"])
            found = _matches_in(doc, query, mode, direction)
            if not found:
                continue
            if matches and len(matches) + len(found) > limit:
                return SearchPage(matches, matches[-1].key, scanned=scanned - 1)
            matches.extend(found)
            if len(matches) >= limit:
                return SearchPage(matches, doc["_id"], scanned=scanned)
    finally:
        await cursor.close()
    return SearchPage(matches, None, scanned=scanned)


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


_MATCHES = TypeAdapter(list[RuleMatch])
_NAME = TypeAdapter(str | None)
_HOLE = '"account_name":null'
_FRAGMENTS: dict[Hit, tuple[str, str]] = {}
FRAGMENTS_KEPT = 50_000  # matches whose JSON is kept (about 1 KB each)


def _account_of(hit: Hit) -> str:
    return hit.place.split(":", 2)[1]


def _fragments(hits: list[Hit], named: dict[str, str]) -> Iterator[str]:
    """Each hit's JSON, with the name of its account (`named`, already JSON)."""
    place, name = "", ""
    for hit in hits:
        if hit.place != place:  # hits come place by place
            place, name = hit.place, named[_account_of(hit)]
        yield _fragment(hit, name)


def _fragment(hit: Hit, name: str) -> str:
    """A match's JSON with its account's name (already JSON). A hit's three strings decide
    everything else in it, so its JSON is kept by the hit itself: nothing to invalidate."""
    parts = _FRAGMENTS.get(hit)
    if parts is None:
        whole = RuleMatch.model_validate(match_fields(*hit)).model_dump_json()
        # `account_name` follows four string fields, none able to hold `"` unescaped.
        head, _, tail = whole.partition(_HOLE)
        if len(_FRAGMENTS) >= FRAGMENTS_KEPT:
            _FRAGMENTS.clear()
        parts = _FRAGMENTS[hit] = (head + '"account_name":', tail)
    return parts[0] + name + parts[1]


async def _account_names(db: Database, accounts: set[str]) -> dict[str, str | None]:
    docs = await Store(db).read("accounts", sorted(accounts), {"name": 1})
    return {a: docs.get(a, {}).get("name") for a in accounts}
