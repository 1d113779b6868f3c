"""The auditor's work on one message: history, audit, issues and events.

For each group of a SnapshotBatch the stored item decides the path (`decide`), or the
account-region's roster where it knows enough (`known_states`: a group absent from it is
new; one whose entry says exactly what the observation would keep is unchanged):

- unchanged (same fingerprint, same audit inputs): only `last_seen` moves; all such
  groups of a batch go in one bulk write — the hot path;
- new, changed, restored, deleted: a revision is appended (`revisions`), then issues,
  events, the search index and finally the item are written (`commit`); the item is the
  commit point;
- same configuration but different audit inputs (exposure, rules, allowlist, accounts):
  the rules run again and issues follow, without a revision.

`Auditor` coordinates: it reads, decides, hands the slow path to the committer, writes
the hot path, and re-decides what lost a race to another writer (bounded).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from secmonkey.auditor import metrics
from secmonkey.auditor.chain_links import seal_all
from secmonkey.auditor.commit import Committer
from secmonkey.auditor.decide import (
    AuditInputs,
    Observation,
    Source,
    Touch,
    Work,
    decide,
    event_deletions,
    observations,
    sweep_deletions,
)
from secmonkey.auditor.deletion_hold import DeletionHolds, HoldPolicy, decide_hold, held_event
from secmonkey.auditor.expiry import expire_justifications, expired_issues
from secmonkey.auditor.exposure.batch import BatchExposure
from secmonkey.auditor.known_states import PlaceRoster, Rosters, blind_touch
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.rule_context import ContextSource, Directory
from secmonkey.auditor.rules.engine import Finding, evaluate
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.auditor.summaries import SummaryRecounts
from secmonkey.auditor.turns import Place, Turns
from secmonkey.common import amqp, chain_anchor, issue_counters, place_rosters
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.chain_anchor import AnchorTarget
from secmonkey.common.documents import Item
from secmonkey.common.errors import InvalidInput, TransientError
from secmonkey.common.item_keys import group_id_of
from secmonkey.common.messages import Caller, Event, SnapshotBatch, SweepCompleted, utcnow
from secmonkey.common.search_index.writer import IndexWriter
from secmonkey.common.storage import Capabilities, Database, Store, Update

log = logging.getLogger(__name__)

MAX_ROUNDS = 5
# Without conditional writes, one message at a time per account-region (`turns`), per
# process and database however many Auditor objects the process holds.
_TURNS: dict[tuple[int, str], Turns] = {}


def _turns_of(db: Database, limit: int) -> Turns:
    return _TURNS.setdefault((id(db.client), db.name), Turns(limit))


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


class Auditor:
    """Applies SnapshotBatch and SweepCompleted messages to the database and publishes the
    events. `handle` is safe to call again with the same message at any time."""

    def __init__(
        self,
        db: Database,
        rules: RulesConfig,
        publisher: amqp.Publisher | None = None,
        *,
        context_ttl: float = 0.0,
        read_concurrency: int = 8,
        message_concurrency: int = 4,
        capabilities: Capabilities | None = None,
        store: Store | None = None,
        hold: HoldPolicy | None = None,
        summary_delay: float = 0.0,
        own_places: bool = False,
        partitions: int = 0,
    ) -> None:
        self.db = db
        self.hold = hold or HoldPolicy()
        self.rules = rules
        self.store = store or Store(db, capabilities, read_concurrency=read_concurrency)
        self.contexts = ContextSource(db, rules, context_ttl)
        self.outbox = Outbox(self.store, publisher)
        self.index = IndexWriter(self.store, partitions=partitions if own_places else 0)
        self.committer = Committer(self.store, self.outbox, self.index)
        self.exposure = BatchExposure(db, own_places=own_places)
        self._turns = _turns_of(db, message_concurrency)
        self.summaries = SummaryRecounts(db, self._turn, summary_delay, own_places=own_places)
        keep = own_places and not self.store.conditional_writes  # see `Rosters`
        self.rosters = Rosters(self.store, keep=keep)
        self.holds = DeletionHolds(db, keep=keep)

    @contextlib.asynccontextmanager
    async def _turn(self, place: Place) -> AsyncIterator[None]:
        """Without conditional writes (FerretDB), one message at a time per account-region:
        the unique revision ids serialise revisions, but an unguarded item write could
        leave an older revision on top (`turns`)."""
        if self.store.conditional_writes:
            yield
        else:
            async with self._turns.place(place):
                yield

    async def handle(self, message: SnapshotBatch | SweepCompleted) -> list[Event]:
        """Apply one message; the events it produced (already stored, and published)."""
        place = (message.account_id, message.region)
        async with self._turn(place):
            try:
                if isinstance(message, SnapshotBatch):
                    events = await self.apply_batch(message)
                elif isinstance(message, SweepCompleted):
                    events = await self.apply_sweep(message)
                else:  # pragma: no cover - the parser only yields these two
                    raise InvalidInput(f"unexpected message {type(message).__name__}")
            except BaseException:  # a write may have landed unanswered
                self.rosters.forget(place)
                self.holds.forget(place)
                raise
            if events:  # the summary follows
                await self.summaries.changed(message.account_id, message.region)
            elif isinstance(message, SweepCompleted):
                await self.summaries.swept(message.account_id, message.region)
        await self.outbox.publish(events)
        return events

    def partition_taken(self) -> None:
        """This process took a partition (perhaps back from a replica that changed its
        account-regions): what it remembers of its places is read again."""
        self.summaries.forget_recounts()
        self.rosters.forget()
        self.holds.forget()
        self.exposure.filer.forget_known()
        self.exposure.topologies.forget_known()

    async def settle_summaries(self, holds: Callable[[str, str], bool]) -> int:
        """Recompute the summaries others marked, of the account-regions `holds` accepts."""
        marks = await issue_counters.held_marks(self.db, holds)
        for mark in marks:
            async with self._turn((mark["account_id"], mark["region"])):
                await issue_counters.settle_mark(self.db, mark)
        return len(marks)

    async def apply_batch(self, batch: SnapshotBatch) -> list[Event]:
        roster = await self.rosters.read(batch.account_id, batch.region)
        # Groups new to the roster are entered before their exposure is filed.
        new = roster.note_absent([g.config.group_id for g in batch.groups])
        await roster.unknown(new)
        await self.exposure.prepare(batch, new=set(new))
        seen = observations(batch)
        deletions = event_deletions(batch, {o.key for o in seen})
        if not seen and not deletions:
            return []
        directory = await self.contexts.directory()
        events: list[Event] = []
        if seen:
            events += await self._settle(list(seen), directory, roster)
        if deletions:
            events += await self._settle(list(deletions), directory, roster)
        await self._gone(roster, events)
        return events

    async def _gone(self, roster: PlaceRoster, events: list[Event]) -> None:
        """Deleted groups: their exposure forgotten, then struck off the roster."""
        await self.exposure.forget(events)
        deleted = [e.group_id for e in events if e.type == "group.deleted" and e.group_id]
        await roster.strike(deleted)

    async def apply_sweep(self, message: SweepCompleted) -> list[Event]:
        """Mark deleted every active group of the account-region a complete sweep missed,
        unless that is a mass deletion a second sweep has yet to confirm (`deletion_hold`)."""
        if not message.complete:
            log.info(
                "sweep %s of %s/%s incomplete (%s): nothing is deleted",
                message.sweep_id,
                message.account_id,
                message.region,
                message.error or "no reason given",
            )
            return []
        # Only the groups the sweep did not see are read (by `_id`, from the roster).
        roster = await self.rosters.read(message.account_id, message.region)
        listed = sorted(roster.entries)
        seen = set(message.group_ids)
        unseen = [g for g in listed if g not in seen]
        missed = await place_rosters.active_items(
            self.store, message.account_id, message.region, {"last_seen": 1}, among=unseen
        )
        active = len(listed) - (len(unseen) - len(missed))
        candidates = sweep_deletions(message, missed)
        hold = await self.holds.get(message)
        if not candidates and hold is None:
            return []
        decision = decide_hold(self.hold, message, active, candidates, hold)
        events: list[Event] = []
        if decision.hold is not None:
            await self.holds.put(decision.hold)
            held = held_event(self.hold, message, active, len(decision.held))
            log.warning("%s", held.system.detail if held.system else held.type)
            await self.outbox.store([held])
            events.append(held)
        if decision.apply:
            directory = await self.contexts.directory()
            events += await self._settle(list(decision.apply), directory, roster)
        if decision.hold is None and hold is not None:
            await self.holds.clear(message)
        await self._gone(roster, events)
        return events

    def inputs(self, directory: Directory) -> AuditInputs:
        def findings(
            key: str, config: CanonicalGroup, account: str, region: str, attached: Attachments
        ) -> list[Finding]:
            ctx = self.contexts.context(directory, account, region, attached)
            return evaluate(key, config, ctx, self.rules)

        return AuditInputs(self.contexts.digest(directory), findings)

    async def _settle(
        self, sources: list[Source], directory: Directory, roster: PlaceRoster
    ) -> list[Event]:
        """Decide and apply, re-reading and retrying what lost a race (bounded). The first
        round decides what it can on the roster alone (`known_states`)."""
        inputs = self.inputs(directory)
        events: list[Event] = []
        pending = sources
        blind = True
        for _ in range(MAX_ROUNDS):
            if not pending:
                return events
            decided = self._blind(pending, roster, inputs) if blind else {}
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
            done, pending = await self.committer.apply(work, directory, inputs, roster)
            events.extend(done)
            retried = {s.key for s in pending}
            for item in work:
                if item.key not in retried:
                    metrics.GROUPS_APPLIED.labels(item.kind).inc()
            if touched and not await self._touch(touched, roster):
                pending.extend(touched_sources)  # someone moved them meanwhile: re-decide
        if pending:
            raise TransientError(f"history of {pending[0].key} kept changing; retrying later")
        return events

    def _blind(
        self, sources: list[Source], roster: PlaceRoster, inputs: AuditInputs
    ) -> dict[str, Touch | Work]:
        """What the roster decides without an item read: groups absent from it are
        created (blind: a stored revision sends them back), groups it knows exactly as
        observed are touched. Callers' events are decided on the item (a late event is
        attached to the revision it names)."""
        decided: dict[str, Touch | Work] = {}
        for source in sources:
            if not isinstance(source, Observation) or source.callers:
                continue
            group_id = source.snapshot.config.group_id
            if group_id in roster.absent:
                work = decide(source, None, inputs)
                if isinstance(work, Work):
                    work.blind = True
                    decided[source.key] = work
            elif (touch := blind_touch(source, roster.entry(group_id), inputs)) is not None:
                decided[source.key] = touch
        return decided

    async def _touch(self, touched: list[Touch], roster: PlaceRoster) -> bool:
        """The hot path's writes; False if some item had moved (to decide again).

        A touch that changes what the roster knows sets the entry back to unknown first,
        and to the new state after."""
        changing = [t.key for t in touched if t.attachments is not None or t.audit_key is not None]
        await roster.unknown([group_id_of(k) for k in changing if roster.knows(k)])
        matched = await self.store.write("items", [touch_write(t) for t in touched])
        if matched < len(touched):
            return False
        metrics.GROUPS_APPLIED.labels("unchanged").inc(len(touched))
        await roster.learn({group_id_of(t.key): t.known for t in touched})
        return True

    async def ensure_lookups(self) -> int:
        """File the search lookups of items stored before the index existed (once)."""
        return await self.index.backfill()

    async def ensure_rosters(self) -> int:
        """Build the account-regions' group rosters from the items (once)."""
        return await place_rosters.backfill(self.db)

    async def publish(self, events: list[Event]) -> None:
        await self.outbox.publish(events)

    async def republish_outbox(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Publish events stored by a run that stopped before publishing them."""
        return await self.outbox.republish(older_than)

    async def raise_overdue_reviews(self, now: datetime | None = None) -> list[Event]:
        """`change.overdue` for pending reviews past their deadline (publishes the events)."""
        events = await self.committer.reviews.raise_overdue(self.outbox, now)
        await self.outbox.publish(events)
        return events

    async def anchor_daily(
        self, target: AnchorTarget | None, now: datetime | None = None
    ) -> Event | None:
        """Today's anchor of every chain head, if no replica wrote it yet and there is any
        history to anchor (published)."""
        now = now or utcnow()
        if await self.db.revisions.find_one({}, {"_id": 1}) is None:
            return None
        made = await chain_anchor.anchor(self.db, target, now, chain_anchor.daily_name(now))
        if made is None:
            return None
        await self.outbox.store([made[1]])
        await self.outbox.publish([made[1]])
        return made[1]

    async def seal_history(self) -> int:
        """Seal the history of groups from before the chain (once, at start)."""
        return await seal_all(self.store)

    async def expire_justifications(
        self, now: datetime | None = None, keep: Callable[[str], bool] | None = None
    ) -> list[Event]:
        """Re-open justified issues whose justification has expired (publishes the events);
        with `keep`, of the item keys it accepts only (the partitions this replica holds)."""
        now = now or utcnow()
        events: list[Event] = []
        # The scan waits for no turn (it is a scan on FerretDB); each account-region's
        # expiries are made in its turn, on the issues read again.
        for place, issue_ids in sorted((await expired_issues(self.store, now, keep)).items()):
            async with self._turn(place):
                made = await expire_justifications(
                    self.store, self.contexts, self.outbox, issue_ids, now
                )
                if made:
                    await self.summaries.changed(*place)
            events += made
        await self.outbox.publish(events)
        return events
