"""Mass deletions held: a complete sweep that would delete more than a share of an
account-region's groups deletes nothing until a second complete sweep confirms it.

A forged or broken `SweepCompleted` (an empty group list from a stolen credential, an
AWS answer that lost pages yet looked complete) would otherwise mark a whole estate
deleted and fire a `group.deleted` storm. Held, it raises one `system.deletion_held`
event instead; the next complete sweep (another `sweep_id`) deletes the groups that both
sweeps missed. Deletions found by a targeted describe (real time) never come here.

The decision (`decide_hold`) is pure; `DeletionHolds` keeps one document per
account-region in `deletion_holds`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from secmonkey.auditor.decide import Deletion
from secmonkey.common.messages import Event, SweepCompleted, SystemRef
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database, Document

HELD = "system.deletion_held"


@dataclass(frozen=True)
class HoldPolicy:
    share: float = 0.5  # hold when more than this share of the groups would go
    min_groups: int = 10  # only in account-regions with more groups than this

    def is_mass(self, active: int, deleting: int) -> bool:
        return active > self.min_groups and deleting > self.share * active


@dataclass(frozen=True)
class HoldDecision:
    apply: list[Deletion]  # deletions to carry out now
    held: list[Deletion]  # deletions held until another complete sweep
    hold: Document | None  # the account-region's hold after this sweep (None: none)


def hold_id(message: SweepCompleted) -> str:
    return place_hold_id((message.account_id, message.region))


def place_hold_id(place: tuple[str, str]) -> str:
    return f"{place[0]}:{place[1]}"


def decide_hold(
    policy: HoldPolicy,
    message: SweepCompleted,
    active: int,
    candidates: list[Deletion],
    hold: Document | None,
) -> HoldDecision:
    """What a complete sweep's `candidates` (of `active` groups) do, given the stored hold."""
    if not policy.is_mass(active, len(candidates)):
        return HoldDecision(candidates, [], None)
    if hold is not None and hold["sweep_id"] != message.sweep_id:
        earlier = set(hold["keys"])
        confirmed = [d for d in candidates if d.key in earlier]
        unconfirmed = [d for d in candidates if d.key not in earlier]
    else:  # the first sweep to miss them, or the same one delivered again
        confirmed, unconfirmed = [], candidates
    if not unconfirmed:
        return HoldDecision(confirmed, [], None)
    new_hold = {
        "_id": hold_id(message),
        "sweep_id": message.sweep_id,
        "keys": sorted(d.key for d in unconfirmed),
        "active": active,
        "at": message.observed_at,
    }
    return HoldDecision(confirmed, unconfirmed, new_hold)


def held_event(policy: HoldPolicy, message: SweepCompleted, active: int, held: int) -> Event:
    """The one `system.deletion_held` event of this sweep and account-region."""
    digest = hashlib.sha256(
        "\x1f".join((HELD, message.sweep_id, message.account_id, message.region)).encode()
    ).hexdigest()[:32]
    return Event(
        event_id=digest,
        type=HELD,
        key=f"system:deletion_held:{message.account_id}:{message.region}",
        account_id=message.account_id,
        region=message.region,
        at=message.observed_at,
        system=SystemRef(
            subject=f"account {message.account_id} region {message.region}",
            detail=(
                f"sweep {message.sweep_id} would delete {held} of {active} groups (more than "
                f"{policy.share:.0%}); nothing deleted until another complete sweep confirms"
            ),
            severity=Severity.HIGH,
            since=message.observed_at,
        ),
    )


class DeletionHolds:
    """The `deletion_holds` collection: at most one hold per account-region.

    With `keep` (the process is its account-regions' only writer, one message at a time:
    as for `known_states.Rosters`), the ids of every hold are read once (a handful: a hold
    is a mass deletion awaiting confirmation), and a sweep's end reads only a hold that
    may exist; `forget` after a failed message or a partition taken."""

    def __init__(self, db: Database, *, keep: bool = False) -> None:
        self.db = db
        self.keep = keep
        self._listed: set[str] | None = None  # ids that may have a hold (None: not read)

    async def get(self, message: SweepCompleted) -> Document | None:
        doc_id = hold_id(message)
        if self.keep:
            if self._listed is None:
                ids = await self.db.deletion_holds.find({}, {"_id": 1}).to_list(None)
                self._listed = {d["_id"] for d in ids}
            if doc_id not in self._listed:
                return None
        found = await self.db.deletion_holds.find_one({"_id": doc_id})
        if found is None and self._listed is not None:
            self._listed.discard(doc_id)
        return found

    async def put(self, hold: Document) -> None:
        if self._listed is not None:
            self._listed.add(hold["_id"])
        fields: dict[str, Any] = {k: v for k, v in hold.items() if k != "_id"}
        await self.db.deletion_holds.update_one({"_id": hold["_id"]}, {"$set": fields}, upsert=True)

    async def clear(self, message: SweepCompleted) -> None:
        await self.db.deletion_holds.delete_one({"_id": hold_id(message)})
        if self._listed is not None:
            self._listed.discard(hold_id(message))

    def forget(self, place: tuple[str, str] | None = None) -> None:
        """Read again whether the account-region (or, without one, any) has a hold."""
        if place is None:
            self._listed = None
        elif self._listed is not None:
            self._listed.add(place_hold_id(place))
