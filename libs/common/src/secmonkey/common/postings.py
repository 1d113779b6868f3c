"""Rule postings: the lookup documents that answer "which rules cover this address?".

A rule's CIDR source is an aligned prefix, so the rules that contain an address (or a
network of prefix length p) are exactly those whose range is one of the p + 1 maskings
of it. Each such range is one document, found by its `_id`, whatever the size of the
estate; this is what makes `/search/ip` and `/search/cidr?match=contains|exact` a handful
of primary-key lookups on MongoDB and on FerretDB alike (FerretDB 1.24 serves nothing but
`{_id: <string>}` from an index).

Three kinds of document, all written by the auditor before it commits an item:

- `rule_ranges`, `_id = "<direction>:<version>:<prefixlen>:<first address, hex>"`:
  `places` = the account-regions (`aws:<account>:<region>`) with a rule of that range;
- `rule_ranges`, `_id = "lengths"`: per `<direction>:<version>`, the prefix lengths in
  use (a search looks up only those lengths);
- `rule_postings`, `_id = "<range id>@<place>"`: `e` = one line per rule of an active
  group of that place with that range (group ID, rule index, the group's name and VPC,
  the rule), enough to answer without reading the item; lines sorted by group ID and
  index, `v` = a version counter. The whole list is one string: FerretDB 1.24 spends
  about 20 µs on every array element or sub-document it reads (one 2,500-line string:
  4 ms; the same as an array: 20 ms; as sub-documents: six times that), and a range such
  as 10.0.0.0/8 can have thousands of rules in one account-region.

`group_ids`, `_id = <group ID>`: `g`, a map from each item key the ID was seen under
(deleted ones too) to the group's name, account, region, VPC and state, for
`/groups/resolve` and for finding a group by its ID alone.

Entries are added with `$addToSet` and removed with `$pull` of the identical string
(one `$pull` per entry: FerretDB 1.24 ignores `$pull` with `$in`), so replaying the same
change is harmless. Deleted groups have no entries. Writes to one
place come from one message at a time (DESIGN §6), so entries of a place never race.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from pymongo import UpdateOne

from secmonkey.common.canonical import CanonicalGroup, Direction, Rule
from secmonkey.common.cidr import IPNetwork, parse_network, to_hex
from secmonkey.common.errors import InvalidInput

RANGES = "rule_ranges"
POSTINGS = "rule_postings"
GROUP_IDS = "group_ids"  # `_id` = a group ID, `g` = {item key: what resolving it answers}
LENGTHS_ID = "lengths"
BUILT_ID = "built"  # marks a database whose postings cover every active item


def range_id(direction: str, network: IPNetwork) -> str:
    return (
        f"{direction}:{network.version}:{network.prefixlen}:{to_hex(int(network.network_address))}"
    )


def place_of(key: str) -> str:
    """`aws:<account>:<region>` of an item key `aws:<account>:<region>:<group_id>`."""
    return key.rsplit(":", 1)[0]


def posting_id(range_: str, place: str) -> str:
    return f"{range_}@{place}"


def lengths_field(direction: str, version: int) -> str:
    return f"{direction}:{version}"


_FIELDS = 9


def _escape(value: object) -> str:
    if value is None:
        return ""
    return str(value).replace("%", "%25").replace("|", "%7C").replace("\n", "%0A")


def _unescape(value: str) -> str:
    return value.replace("%0A", "\n").replace("%7C", "|").replace("%25", "%")


@dataclass(frozen=True)
class Entry:
    """What a search answers about one rule, stored as `encode()`'s line (without the
    place, which the document's `_id` names)."""

    key: str
    index: int
    name: str
    vpc_id: str | None
    rule: Rule

    def encode(self) -> str:
        r = self.rule
        group_id = self.key.rsplit(":", 1)[1]
        values = [group_id, self.index, self.name, self.vpc_id, r.protocol, r.from_port]
        values += [r.to_port, r.source, r.description]
        return "|".join(_escape(v) for v in values)

    @classmethod
    def decode(cls, text: str, direction: str, place: str) -> Entry:
        """The entry `encode` wrote (trusted: built without validating the rule again)."""
        group_id, index, name, vpc, protocol, low, high, source, description = entry_parts(text)
        rule = Rule.model_construct(
            direction=cast(Direction, direction),
            protocol=protocol,
            from_port=int(low) if low else None,
            to_port=int(high) if high else None,
            source_kind="cidr6" if ":" in source else "cidr4",
            source=source,
            source_account=None,
            description=description,
        )
        return cls(f"{place}:{group_id}", int(index), name, vpc or None, rule)


def entry_parts(line: str) -> list[str]:
    """The nine fields of an encoded entry: group ID, rule index, name, VPC, protocol,
    from port, to port, source, description (empty strings for none)."""
    parts = line.split("|")
    if len(parts) != _FIELDS:
        raise ValueError(f"not a posting entry: {line[:80]!r}")
    return [_unescape(p) for p in parts] if "%" in line else parts


def entry_position(line: str) -> tuple[str, int]:
    """(group ID, rule index) of an encoded entry, without decoding the rest."""
    group_id, index, _ = line.split("|", 2)
    return (_unescape(group_id) if "%" in group_id else group_id), int(index)


def lines_of(doc: dict[str, Any] | None) -> list[str]:
    """The entry lines of a posting document (none if it is missing or empty)."""
    text = (doc or {}).get("e") or ""
    return text.split("\n") if text else []


@dataclass
class PostingEdit:
    """Lines to add to and remove from one posting document."""

    add: set[str] = field(default_factory=set)
    remove: set[str] = field(default_factory=set)

    def apply(self, doc: dict[str, Any] | None) -> str:
        """The document's new `e`: the same result however often it is applied."""
        lines = (set(lines_of(doc)) - self.remove) | self.add
        return "\n".join(sorted(lines, key=entry_position))


@dataclass(frozen=True)
class Posting:
    """One CIDR rule of one group, filed under its range."""

    range_id: str
    direction: str
    version: int
    prefixlen: int
    place: str
    entry: Entry

    @property
    def doc_id(self) -> str:
        return posting_id(self.range_id, self.place)

    @property
    def path(self) -> tuple[str, str]:
        return self.doc_id, f"{self.entry.key}/{self.entry.index}"


def postings_of(key: str, config: CanonicalGroup) -> list[Posting]:
    """The postings of an active group's CIDR rules."""
    place = place_of(key)
    out: list[Posting] = []
    for index, rule in enumerate(config.rules):
        if rule.source_kind not in ("cidr4", "cidr6"):
            continue
        try:
            network = parse_network(rule.source)
        except InvalidInput:
            continue
        out.append(
            Posting(
                range_id=range_id(rule.direction, network),
                direction=rule.direction,
                version=network.version,
                prefixlen=network.prefixlen,
                place=place,
                entry=Entry(key, index, config.name, config.vpc_id, rule),
            )
        )
    return out


@dataclass
class LookupWrites:
    """Writes to `_id`-keyed lookup documents, by collection, in the order to apply them.

    A document that an update adds to is created empty first (`creates`), then updated
    without `upsert`: two writers upserting the same new `_id` at once make one of them
    fail with a duplicate key on FerretDB, while a refused duplicate insert is harmless.
    """

    creates: dict[str, set[str]] = field(default_factory=dict)
    updates: dict[str, list[UpdateOne]] = field(default_factory=dict)
    edits: dict[str, PostingEdit] = field(default_factory=dict)  # `rule_postings` by `_id`

    def add(self, collection: str, doc_id: str, update: dict[str, Any], *, create: bool) -> None:
        self.creates.setdefault(collection, set())
        if create:
            self.creates[collection].add(doc_id)
        self.updates.setdefault(collection, []).append(UpdateOne({"_id": doc_id}, update))

    def extend(self, other: LookupWrites) -> LookupWrites:
        for name, ids in other.creates.items():
            self.creates.setdefault(name, set()).update(ids)
        for name, ops in other.updates.items():
            self.updates.setdefault(name, []).extend(ops)
        for doc_id, edit in other.edits.items():
            mine = self.edits.setdefault(doc_id, PostingEdit())
            mine.add |= edit.add
            mine.remove |= edit.remove
        return self

    def collections(self) -> list[str]:
        return list(self.updates)


def delta_writes(old: list[Posting], new: list[Posting]) -> LookupWrites:
    """Idempotent writes turning the postings `old` into `new` (either may be empty).

    `rule_ranges` (`updates`) comes before `rule_postings` (`edits`): a reader may briefly
    miss an entry being added, never find one its directory does not lead to.
    """
    before = {p.path: p for p in old}
    after = {p.path: p for p in new}
    changed = {i for i, p in after.items() if i in before and before[i].entry != p.entry}
    added = [p for i, p in after.items() if i not in before or i in changed]
    removed = [p for i, p in before.items() if i not in after or i in changed]
    writes = LookupWrites()
    if added:
        lengths: dict[str, set[int]] = defaultdict(set)
        places: dict[str, set[str]] = defaultdict(set)
        for p in added:
            lengths[lengths_field(p.direction, p.version)].add(p.prefixlen)
            places[p.range_id].add(p.place)
        each = {f: {"$each": sorted(v)} for f, v in sorted(lengths.items())}
        writes.add(RANGES, LENGTHS_ID, {"$addToSet": each}, create=True)
        for r, v in sorted(places.items()):
            writes.add(RANGES, r, {"$addToSet": {"places": {"$each": sorted(v)}}}, create=True)
    for p in removed:
        writes.edits.setdefault(p.doc_id, PostingEdit()).remove.add(p.entry.encode())
    for p in added:
        writes.edits.setdefault(p.doc_id, PostingEdit()).add.add(p.entry.encode())
    return writes


RESOLUTION_FIELDS = ("name", "account_id", "account_name", "region", "vpc_id", "state")


def group_id_writes(items: list[dict[str, Any]]) -> LookupWrites:
    """File each item (its key as `_id`, and `RESOLUTION_FIELDS` + `deleted_at`) under its
    group ID in `group_ids`: `/groups/resolve` answers from these alone."""
    writes = LookupWrites()
    for item in items:
        update = {"$set": {f"g.{item['_id']}": resolution(item)}}
        writes.add(GROUP_IDS, str(item["group_id"]), update, create=True)
    return writes


def resolution(item: dict[str, Any]) -> dict[str, Any]:
    """What `group_ids` keeps of one item."""
    return {f: item.get(f) for f in RESOLUTION_FIELDS} | {"deleted_at": item.get("deleted_at")}
