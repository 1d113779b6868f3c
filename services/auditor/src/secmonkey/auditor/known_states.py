"""What an account-region's roster tells the auditor without reading the items.

The roster (`secmonkey.common.place_rosters`) lists the groups of a place that have any
stored state. Its entry for a group is either unknown, or a `known_state`: the revision,
audit key and attachments the auditor last committed for the group. Order of the writes,
for every group (the auditor replica holding the account-region, one message at a time):

- an absent group is entered (unknown) before anything about it is written: its exposure
  state, revisions, search lookups, item. So a group absent from the roster has no stored
  state, except a deleted item (struck off after its deletion committed and its exposure
  was forgotten) or a revision of an attempt that stopped before its entry was written;
- an entry is set back to unknown before a write changes what it says, and set to the new
  state once the item is committed;

so a known entry is never ahead of, nor behind, its item. A message then needs no item
read for a group absent from the roster (a blind `created`: a revision of the same id
already stored sends it back to be decided on its item, `revisions.append_revisions`) nor
for one whose entry equals what the observation would keep (a blind `Touch`, guarded like
any other on MongoDB). Anything else is decided on the item, as before the rosters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secmonkey.auditor.decide import (
    AuditInputs,
    Observation,
    Touch,
    attachments_digest,
    audit_key,
    exposure_key,
)
from secmonkey.common import place_rosters
from secmonkey.common.item_keys import group_id_of, key_parts
from secmonkey.common.place_rosters import UNKNOWN, Entry
from secmonkey.common.storage import Store


def blind_touch(source: Observation, entry: Entry | None, inputs: AuditInputs) -> Touch | None:
    """The hot path decided on the roster alone: the observation keeps the group exactly as
    the entry says it is (same revision, audit key and attachments); else None."""
    if not isinstance(entry, str):
        return None
    seq, stored_key, digest = entry.split("|")
    snapshot = source.snapshot
    key = audit_key(snapshot.fingerprint, exposure_key(snapshot.attachments), inputs.digest)
    if key != stored_key:
        return None
    if attachments_digest(snapshot.attachments.model_dump(mode="json")) != digest:
        return None
    return Touch(
        source.key, source.observed_at, int(seq), snapshot.fingerprint, stored_key=key, known=entry
    )


@dataclass
class PlaceRoster:
    """One account-region's roster as a message found it."""

    account_id: str
    region: str
    entries: dict[str, Entry] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # group ids absent when it was read

    def note_absent(self, group_ids: list[str]) -> list[str]:
        """Of these groups, those absent from the roster (remembered as absent)."""
        missing = [g for g in group_ids if g not in self.entries]
        self.absent.update(missing)
        return missing


class PlaceRosters:
    """The rosters of the account-regions one pass applies (`passes`), by item key, and
    the auditor's writes to them: each write is one command for all the account-regions."""

    def __init__(self, store: Store, rosters: list[PlaceRoster]) -> None:
        self.store = store
        self.places = {(r.account_id, r.region): r for r in rosters}

    def of(self, key: str) -> PlaceRoster:
        account_id, region, _ = key_parts(key)
        return self.places[(account_id, region)]

    def entry(self, key: str) -> Entry | None:
        return self.of(key).entries.get(group_id_of(key))

    def absent(self, key: str) -> bool:
        """Whether the group was absent from its roster when the pass read it."""
        return group_id_of(key) in self.of(key).absent

    def knows(self, key: str) -> bool:
        """Whether the roster holds a known state for this item key."""
        return isinstance(self.entry(key), str)

    async def unknown(self, keys: list[str]) -> None:
        """Enter these groups, or set them back to unknown, before anything about them is
        written (none if every entry already says unknown)."""
        await self.learn(dict.fromkeys(keys, UNKNOWN))

    async def learn(self, entries: dict[str, Entry]) -> None:
        """Set these entries (where they differ from what the roster says)."""
        changed: dict[tuple[str, str], dict[str, Entry]] = {}
        for key, value in entries.items():
            roster = self.of(key)
            group_id = group_id_of(key)
            if roster.entries.get(group_id) != value:
                changed.setdefault((roster.account_id, roster.region), {})[group_id] = value
        if changed:
            await place_rosters.mark(self.store, changed)
            for place, values in changed.items():
                self.places[place].entries.update(values)

    async def strike(self, keys: list[str]) -> None:
        """Strike deleted groups off (after their deletion committed and their exposure was
        forgotten)."""
        gone: dict[tuple[str, str], list[str]] = {}
        for key in keys:
            account_id, region, group_id = key_parts(key)
            gone.setdefault((account_id, region), []).append(group_id)
        if gone:
            await place_rosters.strike(self.store, gone)
            for place, group_ids in gone.items():
                for g in group_ids:
                    self.places[place].entries.pop(g, None)


class Rosters:
    """Reads each pass's rosters; with `keep`, keeps the entries between messages.

    Keeping is for a process that is its account-regions' only writer, one message at a
    time each (partitions, where writes are not conditional: `Auditor._turn`): the
    entries it holds are then what the roster says, because `PlaceRosters` changes them
    only after its write to the roster succeeded. A message that fails forgets its place
    (a write may have landed without its answer), and taking a partition forgets all."""

    def __init__(self, store: Store, *, keep: bool) -> None:
        self.store = store
        self.keep = keep
        self._kept: dict[tuple[str, str], dict[str, Entry]] = {}

    async def read(self, places: list[tuple[str, str]]) -> PlaceRosters:
        """The rosters of these account-regions (those not kept in one read)."""
        found = {p: self._kept[p] for p in places if self.keep and p in self._kept}
        unread = [p for p in places if p not in found]
        found.update(await place_rosters.entries(self.store, unread))
        if self.keep:
            self._kept.update(found)
        rosters = [PlaceRoster(a, r, found[(a, r)]) for a, r in places]
        return PlaceRosters(self.store, rosters)

    def forget(self, place: tuple[str, str] | None = None) -> None:
        if place is None:
            self._kept.clear()
        else:
            self._kept.pop(place, None)
