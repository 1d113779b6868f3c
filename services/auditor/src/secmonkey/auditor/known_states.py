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
from secmonkey.common.item_keys import group_id_of
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
    """One account-region's roster as a message found it, and the auditor's writes to it."""

    store: Store
    account_id: str
    region: str
    entries: dict[str, Entry] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)  # group ids absent when it was read

    def entry(self, group_id: str) -> Entry | None:
        return self.entries.get(group_id)

    def knows(self, key: str) -> bool:
        """Whether the roster holds a known state for this item key."""
        return isinstance(self.entries.get(group_id_of(key)), str)

    def note_absent(self, group_ids: list[str]) -> list[str]:
        """Of these groups, those absent from the roster (remembered as absent)."""
        missing = [g for g in group_ids if g not in self.entries]
        self.absent.update(missing)
        return missing

    async def unknown(self, group_ids: list[str]) -> None:
        """Enter these groups, or set them back to unknown, before anything about them is
        written (one command; none if every entry already says unknown)."""
        await self.learn(dict.fromkeys(group_ids, UNKNOWN))

    async def learn(self, entries: dict[str, Entry]) -> None:
        """Set these entries (where they differ from what the roster says)."""
        changed = {g: v for g, v in entries.items() if self.entries.get(g) != v}
        if changed:
            await place_rosters.mark(self.store.db, self.account_id, self.region, changed)
            self.entries.update(changed)

    async def strike(self, group_ids: list[str]) -> None:
        """Strike deleted groups off (after their deletion committed and their exposure was
        forgotten)."""
        if group_ids:
            await place_rosters.strike(self.store.db, self.account_id, self.region, group_ids)
            for g in group_ids:
                self.entries.pop(g, None)


class Rosters:
    """Reads each message's roster; with `keep`, keeps the entries between messages.

    Keeping is for a process that is its account-regions' only writer, one message at a
    time each (partitions, where writes are not conditional: `Auditor._turn`): the
    entries it holds are then what the roster says, because a `PlaceRoster` changes them
    only after its write to the roster succeeded. A message that fails forgets its place
    (a write may have landed without its answer), and taking a partition forgets all."""

    def __init__(self, store: Store, *, keep: bool) -> None:
        self.store = store
        self.keep = keep
        self._kept: dict[tuple[str, str], dict[str, Entry]] = {}

    async def read(self, account_id: str, region: str) -> PlaceRoster:
        entries = self._kept.get((account_id, region)) if self.keep else None
        if entries is None:
            entries = await place_rosters.entries(self.store, account_id, region)
            if self.keep:
                self._kept[(account_id, region)] = entries
        return PlaceRoster(self.store, account_id, region, entries)

    def forget(self, place: tuple[str, str] | None = None) -> None:
        if place is None:
            self._kept.clear()
        else:
            self._kept.pop(place, None)
