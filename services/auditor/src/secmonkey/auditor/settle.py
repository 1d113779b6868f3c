"""Decide and apply: the rounds that turn observations and deletions into writes.

The first round decides what it can on the rosters alone (`known_states`); the rest is
decided on the stored items. The unchanged hot path (`Touch`) is one bulk write; the slow
path goes to the committer. What lost a race to another writer is decided again, a
bounded number of times. The sources may be of several account-regions (a pass,
`passes`): every read and write is one command for all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secmonkey.auditor import metrics
from secmonkey.auditor.commit import Committed, Committer
from secmonkey.auditor.decide import AuditInputs, Observation, Source, Touch, Work, decide
from secmonkey.auditor.known_states import PlaceRosters, blind_touch
from secmonkey.auditor.rule_context import Directory
from secmonkey.common.documents import Item
from secmonkey.common.errors import TransientError
from secmonkey.common.messages import Caller, Event
from secmonkey.common.storage import Store, Update

MAX_ROUNDS = 5


def touch_write(touch: Touch) -> Update:
    """The hot path's write, guarded on the state it was decided on."""
    changes: dict[str, Any] = {}
    if touch.attachments is not None:
        changes["attachments"] = touch.attachments
    if touch.audit_key is not None:
        changes["audit_key"] = touch.audit_key
    update: dict[str, object] = {"$max": Item.fields(last_seen=touch.observed_at)}
    if changes:
        update["$set"] = Item.fields(**changes)
    guard = {
        "seq": touch.seq,
        "fingerprint": touch.fingerprint,
        "state": "active",
        "audit_key": touch.stored_key,
    }
    return Update(touch.key, update, guard)


class Settler:
    def __init__(self, store: Store, committer: Committer) -> None:
        self.store = store
        self.committer = committer

    async def settle(
        self,
        sources: list[Source],
        directory: Directory,
        inputs: AuditInputs,
        rosters: PlaceRosters,
        committed: Committed | None = None,
    ) -> list[Event]:
        """Decide and apply, re-reading and retrying what lost a race (bounded); the items
        and issues inserted go to `committed`."""
        events: list[Event] = []
        pending = sources
        blind = True
        for _ in range(MAX_ROUNDS):
            if not pending:
                return events
            decided = self._blind(pending, rosters, inputs) if blind else {}
            blind = False
            unread = [s.key for s in pending if s.key not in decided]
            states = await self.store.read("items", unread)
            touched: list[Touch] = []
            touched_sources: list[Source] = []
            work: list[Work] = []
            late: list[tuple[str, int, datetime, list[Caller]]] = []
            for source in pending:
                decision: Touch | Work | None
                if source.key in decided:
                    decision = decided[source.key]
                else:
                    state = states.get(source.key)
                    decision = decide(source, state, inputs)
                    if state is not None and source.callers and not isinstance(decision, Work):
                        # The CloudTrail event came after a sweep recorded the change.
                        seq = int(state["seq"])
                        late.append((source.key, seq, source.observed_at, source.callers))
                if isinstance(decision, Touch):
                    touched.append(decision)
                    touched_sources.append(source)
                elif decision is not None:
                    work.append(decision)
            if late:
                await self.committer.reviews.attach_callers(late)
            done, pending = await self.committer.apply(work, directory, inputs, rosters, committed)
            events.extend(done)
            retried = {s.key for s in pending}
            for item in work:
                if item.key not in retried:
                    metrics.GROUPS_APPLIED.labels(item.kind).inc()
            if touched and not await self._touch(touched, rosters):
                pending.extend(touched_sources)  # someone moved them meanwhile: re-decide
        if pending:
            raise TransientError(f"history of {pending[0].key} kept changing; retrying later")
        return events

    @staticmethod
    def _blind(
        sources: list[Source], rosters: PlaceRosters, inputs: AuditInputs
    ) -> dict[str, Touch | Work]:
        """What the rosters decide without an item read: groups absent from theirs are
        created (blind: a stored revision sends them back), groups it knows exactly as
        observed are touched. Callers' events are decided on the item (a late event is
        attached to the revision it names)."""
        decided: dict[str, Touch | Work] = {}
        for source in sources:
            if not isinstance(source, Observation) or source.callers:
                continue
            if rosters.absent(source.key):
                work = decide(source, None, inputs)
                if isinstance(work, Work):
                    work.blind = True
                    decided[source.key] = work
            elif (touch := blind_touch(source, rosters.entry(source.key), inputs)) is not None:
                decided[source.key] = touch
        return decided

    async def _touch(self, touched: list[Touch], rosters: PlaceRosters) -> bool:
        """The hot path's writes; False if some item had moved (to decide again).

        A touch that changes what the roster knows sets the entry back to unknown first,
        and to the new state after."""
        changing = [t.key for t in touched if t.attachments is not None or t.audit_key is not None]
        await rosters.unknown([k for k in changing if rosters.knows(k)])
        matched = await self.store.write("items", [touch_write(t) for t in touched])
        if matched < len(touched):
            return False
        metrics.GROUPS_APPLIED.labels("unchanged").inc(len(touched))
        await rosters.learn({t.key: t.known for t in touched})
        return True
