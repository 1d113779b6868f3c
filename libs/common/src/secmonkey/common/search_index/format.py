"""The search index's documents: their ids, the encoded rule lines, and the edits that
keep each group's lines as of its latest revision (see README.md beside this file)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from secmonkey.common.canonical import CanonicalGroup, Direction, Rule
from secmonkey.common.cidr import IPNetwork, parse_network, to_hex
from secmonkey.common.errors import InvalidInput
from secmonkey.common.partitions import partition_of

RANGES = "rule_ranges"
POSTINGS = "rule_postings"
GROUP_IDS = "group_ids"  # `_id` = a group ID, `g` = {item key: what resolving it answers}
LENGTHS_ID = "lengths"
BUILT_ID = "built"  # marks a database whose postings cover every active item


def range_id(direction: str, network: IPNetwork) -> str:
    return (
        f"{direction}:{network.version}:{network.prefixlen}:{to_hex(int(network.network_address))}"
    )


# A range's account-regions (places) are listed in its head document (`_id` = the range
# id, `places`) while it has at most `HEAD_PLACES`, and beyond that in shard documents
# `<range id>#<nn>`, a place in the shard of its partition among `PLACE_SHARDS`
# (`partitions.partition_of`), the numbers of the shards in use listed in the head
# (`shards`). Every addition rewrites the document it adds to (FerretDB 1.24 parses the
# whole array on every update), so a range held by thousands of places (0.0.0.0/0 is in
# nearly every one) is 32 short lists rather than one long one; and where the auditor runs
# partitions whose count divides 32, every shard's places are of one partition, so one
# replica writes it (`shards_owned`). Most ranges have a few places: a search reads their
# heads alone, and the listed shards of the others (FerretDB answers a document of an
# `$in` in ~60 µs, a place of an array in ~5 µs: 32 shards cost what a head of ~400 places
# does). `LISTED_ID` marks a database whose heads list every shard in use (the tenth and
# eleventh sessions' auditors wrote shards without listing them: they are listed once at
# the auditor's start, `IndexWriter.list_shards`); without it a reader reads every shard.
HEAD_PLACES = 128
PLACE_SHARDS = 32
LISTED_ID = "listed"  # marks a database whose range heads list every shard in use


def shard_id(range_: str, shard: int) -> str:
    """The shard document number `shard` of `range_`."""
    return f"{range_}#{shard:02d}"


def shard_of(place: str) -> int:
    """The number of the shard that lists `place` (`aws:<account>:<region>`)."""
    _, account_id, region = place.split(":", 2)
    return partition_of(account_id, region, PLACE_SHARDS)


def places_id(range_: str, place: str) -> str:
    """The shard document of `range_` that lists `place` (`aws:<account>:<region>`)."""
    return shard_id(range_, shard_of(place))


def shards_owned(partitions: int) -> bool:
    """Whether each shard's places are all of one partition of `partitions`."""
    return partitions > 0 and PLACE_SHARDS % partitions == 0


def is_shard(doc_id: str) -> bool:
    """Whether a `rule_ranges` document is a range's shard (`places_id`)."""
    return "#" in doc_id


def split_shard(doc_id: str) -> tuple[str, int]:
    """(range id, shard number) of a shard document's `_id`."""
    range_, shard = doc_id.rsplit("#", 1)
    return range_, int(shard)


def places_ids(range_: str) -> list[str]:
    """Every document that may list places of `range_` where heads are not known to list
    their shards: the head (older databases) and every shard."""
    return [range_, *(shard_id(range_, n) for n in range(PLACE_SHARDS))]


def place_of(key: str) -> str:
    """`aws:<account>:<region>` of an item key `aws:<account>:<region>:<group_id>`."""
    return key.rsplit(":", 1)[0]


def posting_id(range_: str, place: str) -> str:
    return f"{range_}@{place}"


def posting_place(doc_id: str) -> str:
    """The place of a posting document's `_id` (`posting_id`'s second part)."""
    return doc_id.split("@", 1)[1]


def lengths_field(direction: str, version: int) -> str:
    return f"{direction}:{version}"


_FIELDS = 10  # group ID, seq, then the eight of the rule (`entry_parts`)


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

    def encode(self, seq: int) -> str:
        """The line filed for this rule as of the group's revision `seq`."""
        r = self.rule
        group_id = self.key.rsplit(":", 1)[1]
        values = [group_id, seq, self.index, self.name, self.vpc_id, r.protocol, r.from_port]
        values += [r.to_port, r.source, r.description]
        return "|".join(_escape(v) for v in values)

    @classmethod
    def decode(cls, text: str, direction: str, place: str) -> Entry:
        """The entry `encode` wrote (trusted: built without validating the rule again)."""
        group_id, index, name, vpc, *rule = entry_parts(text)
        fields = rule_fields(direction, *rule)
        return cls(
            f"{place}:{group_id}", int(index), name, vpc or None, Rule.model_construct(**fields)
        )


def rule_fields(
    direction: str, protocol: str, low: str, high: str, source: str, description: str = ""
) -> dict[str, Any]:
    """A CIDR rule's fields from the text fields of its line."""
    return {
        "direction": cast(Direction, direction),
        "protocol": protocol,
        "from_port": int(low) if low else None,
        "to_port": int(high) if high else None,
        "source_kind": "cidr6" if ":" in source else "cidr4",
        "source": source,
        "source_account": None,
        "description": description,
    }


def entry_parts(line: str) -> list[str]:
    """The nine fields of an encoded rule line: group ID, rule index, name, VPC, protocol,
    from port, to port, source, description (empty strings for none)."""
    parts = line.split("|")
    if len(parts) != _FIELDS:
        raise ValueError(f"not a posting entry: {line[:80]!r}")
    del parts[1]  # the seq
    return [_unescape(p) for p in parts] if "%" in line else parts


def tombstone(group_id: str, seq: int) -> str:
    """The line saying that as of revision `seq` the group has no rule in this document."""
    return f"{_escape(group_id)}|{seq}|-"


def line_group(line: str) -> tuple[str, int]:
    """(group ID, seq) of any line."""
    group_id, seq, _ = line.split("|", 2)
    return (_unescape(group_id) if "%" in group_id else group_id), int(seq)


def entry_position(line: str) -> tuple[str, int]:
    """(group ID, rule index) of a line, without decoding the rest; index -1 for a
    tombstone, which a reader skips."""
    group_id, _, rest = line.split("|", 2)
    index = rest.split("|", 1)[0]
    group_id = _unescape(group_id) if "%" in group_id else group_id
    return group_id, (-1 if index == "-" else int(index))


def lines_of(doc: dict[str, Any] | None) -> list[str]:
    """The entry lines of a posting document (none if it is missing or empty)."""
    text = (doc or {}).get("e") or ""
    return text.split("\n") if text else []


@dataclass
class PostingEdit:
    """The lines each group has in one posting document as of a revision (`seq`).

    Applying it replaces a group's lines unless the document already holds them from a
    later revision, so a late or replayed edit never undoes a newer one; a group left
    with no line keeps a tombstone with its seq for the same reason.
    """

    groups: dict[str, tuple[int, list[str]]] = field(default_factory=dict)

    def set(self, group_id: str, seq: int, lines: list[str]) -> None:
        mine = self.groups.get(group_id)
        if mine is None or seq > mine[0]:
            self.groups[group_id] = (seq, list(lines))
        elif seq == mine[0]:
            mine[1].extend(line for line in lines if line not in mine[1])

    def merge(self, other: PostingEdit) -> None:
        for group_id, (seq, lines) in other.groups.items():
            self.set(group_id, seq, lines)

    def apply(self, doc: dict[str, Any] | None) -> dict[str, Any]:
        """The document's new fields: the same result however often it is applied."""
        present: dict[str, int] = {}
        lines = lines_of(doc)
        for line in lines:
            group_id, seq = line_group(line)
            present[group_id] = max(seq, present.get(group_id, -1))
        winners = {g for g, (seq, _) in self.groups.items() if present.get(g, -1) <= seq}
        out = [line for line in lines if line_group(line)[0] not in winners]
        for group_id in winners:
            seq, mine = self.groups[group_id]
            out.extend(mine or [tombstone(group_id, seq)])
        return {"e": "\n".join(sorted(set(out), key=entry_position))}


@dataclass
class GroupIdEdit:
    """What `group_ids` keeps of each item key of one group ID, as of a revision."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: GroupIdEdit) -> None:
        for key, about in other.keys.items():
            if key not in self.keys or about["seq"] >= self.keys[key]["seq"]:
                self.keys[key] = about

    def apply(self, doc: dict[str, Any] | None) -> dict[str, Any]:
        known = dict((doc or {}).get("g") or {})
        for key, about in self.keys.items():
            if key not in known or int(known[key].get("seq", -1)) <= about["seq"]:
                known[key] = about
        return {"g": known}


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
class RangeDirectory:
    """What `rule_ranges` lists for some postings: the prefix lengths in use (per
    direction and IP version) and the account-regions of each range."""

    lengths: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    places: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def file(self, postings: list[Posting]) -> None:
        for p in postings:
            self.lengths[lengths_field(p.direction, p.version)].add(p.prefixlen)
            self.places[p.range_id].add(p.place)

    def documents(self) -> list[dict[str, Any]]:
        """The `rule_ranges` documents listing these places when all are added at once
        (`directory.placed`): a range's head with its places, or beyond `HEAD_PLACES`
        with its shards' numbers and the shards."""
        out: list[dict[str, Any]] = []
        for range_, places in sorted(self.places.items()):
            if len(places) <= HEAD_PLACES:
                out.append({"_id": range_, "places": sorted(places)})
                continue
            shards: dict[int, list[str]] = defaultdict(list)
            for place in sorted(places):
                shards[shard_of(place)].append(place)
            out.append({"_id": range_, "shards": sorted(shards)})
            out += [{"_id": shard_id(range_, n), "places": v} for n, v in sorted(shards.items())]
        return out
