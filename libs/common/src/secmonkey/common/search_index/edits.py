"""The writes that file one group's changes in the search index (see README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secmonkey.common.search_index.format import (
    GROUP_IDS,
    LENGTHS_ID,
    POSTINGS,
    RANGES,
    GroupIdEdit,
    Posting,
    PostingEdit,
    RangeDirectory,
)
from secmonkey.common.storage import Update


@dataclass
class LookupWrites:
    """Writes to `_id`-keyed lookup documents, by collection, in the order to apply them:
    additions to the range directory (`updates`, made by `directory.add`, which creates
    the documents they add to) and read-modify-replace edits (`edits`)."""

    updates: dict[str, list[Update]] = field(default_factory=dict)
    edits: dict[tuple[str, str], PostingEdit | GroupIdEdit] = field(default_factory=dict)

    def add(self, collection: str, doc_id: str, update: dict[str, Any]) -> None:
        self.updates.setdefault(collection, []).append(Update(doc_id, update))

    def extend(self, other: LookupWrites) -> LookupWrites:
        for name, ops in other.updates.items():
            self.updates.setdefault(name, []).extend(ops)
        for where, edit in other.edits.items():
            mine = self.edits.get(where)
            if mine is None:
                self.edits[where] = edit
            else:
                mine.merge(edit)  # type: ignore[arg-type]
        return self

    def collections(self) -> list[str]:
        return list(self.updates)


def delta_writes(old: list[Posting], new: list[Posting], seq: int) -> LookupWrites:
    """The writes filing one group's postings `new` (as of its revision `seq`) in place of
    `old` (either may be empty): every posting document of either gets the group's lines
    as of `seq`. Idempotent, and a later revision's lines are never overwritten.

    `rule_ranges` (`updates`) comes before `rule_postings` (`edits`): a reader may briefly
    miss an entry being added, never find one its directory does not lead to.
    """
    writes = LookupWrites()
    if new:
        directory = RangeDirectory()
        directory.file(new)
        each = {f: {"$each": sorted(v)} for f, v in sorted(directory.lengths.items())}
        writes.add(RANGES, LENGTHS_ID, {"$addToSet": each})
        for range_, places in sorted(directory.places.items()):  # (`directory.placed`)
            writes.add(RANGES, range_, {"$addToSet": {"places": {"$each": sorted(places)}}})
    lines: dict[str, list[str]] = {p.doc_id: [] for p in old}
    for p in new:
        lines.setdefault(p.doc_id, []).append(p.entry.encode(seq))
    for doc_id, mine in lines.items():
        edit = PostingEdit()
        edit.set(_group_of(old + new), seq, mine)
        writes.edits[(POSTINGS, doc_id)] = edit
    return writes


def _group_of(postings: list[Posting]) -> str:
    return postings[0].entry.key.rsplit(":", 1)[1]


RESOLUTION_FIELDS = ("name", "account_id", "account_name", "region", "vpc_id", "state")


def group_id_writes(items: list[dict[str, Any]]) -> LookupWrites:
    """File each item (its key as `_id`; `RESOLUTION_FIELDS`, `deleted_at` and `seq`) under
    its group ID in `group_ids`: `/groups/resolve` answers from these alone. An entry of
    a later revision is never overwritten."""
    writes = LookupWrites()
    for item in items:
        edit = GroupIdEdit({str(item["_id"]): resolution(item)})
        where = (GROUP_IDS, str(item["group_id"]))
        if where in writes.edits:
            writes.edits[where].merge(edit)  # type: ignore[arg-type]
        else:
            writes.edits[where] = edit
    return writes


def resolution(item: dict[str, Any]) -> dict[str, Any]:
    """What `group_ids` keeps of one item (its revision `seq` decides which write wins)."""
    about = {f: item.get(f) for f in RESOLUTION_FIELDS}
    return about | {"deleted_at": item.get("deleted_at"), "seq": int(item["seq"])}
