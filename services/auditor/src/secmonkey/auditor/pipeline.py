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

`Auditor` coordinates: it gathers messages of distinct account-regions into passes
(`passes`), reads their rosters, files their exposure, and settles (`settle`: decides,
hands the slow path to the committer, writes the hot path, and re-decides what lost a
race to another writer, bounded).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from secmonkey.auditor.chain_links import seal_all
from secmonkey.auditor.commit import Committed, Committer
from secmonkey.auditor.decide import (
    AuditInputs,
    Observation,
    Source,
    event_deletions,
    observations,
    sweep_deletions,
)
from secmonkey.auditor.deletion_hold import DeletionHolds, HoldPolicy, decide_hold, held_event
from secmonkey.auditor.expiry import expire_justifications, expired_issues
from secmonkey.auditor.exposure.batch import BatchExposure
from secmonkey.auditor.known_states import PlaceRosters, Rosters
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.passes import Message, Passes
from secmonkey.auditor.rule_context import ContextSource, Directory
from secmonkey.auditor.rules.engine import Finding, evaluate
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.auditor.settle import Settler
from secmonkey.auditor.summaries import SummaryRecounts
from secmonkey.auditor.turns import Place, Turns
from secmonkey.common import amqp, chain_anchor, issue_counters, place_rosters
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.chain_anchor import AnchorTarget
from secmonkey.common.errors import InvalidInput
from secmonkey.common.item_keys import item_key, key_parts
from secmonkey.common.messages import Event, SnapshotBatch, SweepCompleted, utcnow
from secmonkey.common.search_index.writer import IndexWriter
from secmonkey.common.storage import Capabilities, Database, Document, Store

log = logging.getLogger(__name__)

# Without conditional writes, one message at a time per account-region (`turns`), per
# process and database however many Auditor objects the process holds.
_TURNS: dict[tuple[int, str], Turns] = {}


def _turns_of(db: Database, limit: int) -> Turns:
    return _TURNS.setdefault((id(db.client), db.name), Turns(limit))


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
        message_concurrency: int = 2,
        capabilities: Capabilities | None = None,
        store: Store | None = None,
        hold: HoldPolicy | None = None,
        summary_delay: float = 0.0,
        own_places: bool = False,
        partitions: int = 0,
        pass_size: int = 32,
    ) -> None:
        self.db = db
        self.hold = hold or HoldPolicy()
        self.rules = rules
        self.store = store or Store(db, capabilities, read_concurrency=read_concurrency)
        self.contexts = ContextSource(db, rules, context_ttl)
        self.outbox = Outbox(self.store, publisher)
        self.index = IndexWriter(self.store, partitions=partitions if own_places else 0)
        self.committer = Committer(self.store, self.outbox, self.index)
        self.settler = Settler(self.store, self.committer)
        self.exposure = BatchExposure(db, own_places=own_places)
        self._turns = _turns_of(db, message_concurrency)
        self.summaries = SummaryRecounts(db, self._turns_of, summary_delay, own_places=own_places)
        keep = own_places and not self.store.conditional_writes  # see `Rosters`
        self.rosters = Rosters(self.store, keep=keep)
        self.holds = DeletionHolds(db, keep=keep)
        self.passes = Passes(self.apply_pass, size=pass_size, concurrency=message_concurrency)

    @contextlib.asynccontextmanager
    async def _turn(self, place: Place) -> AsyncIterator[None]:
        """Without conditional writes (FerretDB), one message at a time per account-region:
        the unique revision ids serialise revisions, but an unguarded item write could
        leave an older revision on top (`turns`)."""
        async with self._turns_of([place]):
            yield

    @contextlib.asynccontextmanager
    async def _turns_of(self, places: list[Place]) -> AsyncIterator[None]:
        if self.store.conditional_writes:
            yield
        else:
            async with self._turns.places(places):
                yield

    async def handle(self, message: SnapshotBatch | SweepCompleted) -> list[Event]:
        """Apply one message, in a pass with the messages of other account-regions waiting
        meanwhile (`passes`); the events it produced (already stored, and published)."""
        if not isinstance(message, SnapshotBatch | SweepCompleted):
            raise InvalidInput(f"unexpected message {type(message).__name__}")
        return await self.passes.submit(message)

    async def apply_pass(self, messages: list[Message]) -> list[list[Event]]:
        """Apply SnapshotBatches of distinct account-regions, or one SweepCompleted, in
        their turns; the events of each message (stored, then published together)."""
        places = [(m.account_id, m.region) for m in messages]
        async with self._turns_of(places):
            try:
                summarised: list[Place] = []
                if isinstance(messages[0], SweepCompleted):
                    done = [await self.apply_sweep(messages[0])]
                else:
                    done, summarised = await self.apply_batches(messages)  # type: ignore[arg-type]
            except BaseException:  # a write may have landed unanswered
                for place in places:
                    self.rosters.forget(place)
                    self.holds.forget(place)
                raise
            # The summaries follow.
            changed = [
                p for p, events in zip(places, done, strict=True) if events and p not in summarised
            ]
            await self.summaries.changed(changed)
            if isinstance(messages[0], SweepCompleted) and not done[0]:
                await self.summaries.swept(places)
        await self.outbox.publish([e for events in done for e in events])
        return done

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

    async def apply_batches(
        self, batches: list[SnapshotBatch]
    ) -> tuple[list[list[Event]], list[Place]]:
        """Apply SnapshotBatches of distinct account-regions together; the events of each,
        and the account-regions whose summary the pass stored (`_first_summaries`)."""
        places = [(b.account_id, b.region) for b in batches]
        rosters = await self.rosters.read(places)
        fresh = {p for p in places if not rosters.places[p].entries}
        # Groups new to their roster are entered before their exposure is filed.
        new = {
            place: rosters.places[place].note_absent([g.config.group_id for g in b.groups])
            for place, b in zip(places, batches, strict=True)
        }
        await rosters.unknown([item_key(*place, g) for place, ids in new.items() for g in ids])
        await self.exposure.prepare(batches, new)
        seen = [o for batch in batches for o in observations(batch)]
        keys = {o.key for o in seen}
        deletions = [d for batch in batches for d in event_deletions(batch, keys)]
        events: list[Event] = []
        committed = Committed()
        if seen or deletions:
            directory = await self.contexts.directory()
            inputs = self.inputs(directory)
            if seen:
                sources: list[Source] = list(seen)
                events += await self.settler.settle(sources, directory, inputs, rosters, committed)
            if deletions:
                events += await self.settler.settle(list(deletions), directory, inputs, rosters)
                fresh -= {key_parts(d.key)[:2] for d in deletions}
            await self._gone(rosters, events)
        summarised = await self._first_summaries(fresh, seen, committed)
        by_place = [[e for e in events if (e.account_id, e.region) == p] for p in places]
        return by_place, summarised

    async def _first_summaries(
        self, fresh: set[Place], seen: list[Observation], committed: Committed
    ) -> list[Place]:
        """The summaries of account-regions seen for the first time, from what the pass
        inserted: their roster was empty (so they had no active item) and every group
        observed was inserted now, so their active items and open issues are exactly
        those. Any other account-region is recounted from the database (`summaries`), and
        so is every one where this process is not its only writer (without partitions two
        replicas may each insert some of a new place's groups)."""
        if not self.summaries.own_places:
            return []
        observed: dict[Place, int] = {}
        for o in seen:
            observed[(o.account_id, o.region)] = observed.get((o.account_id, o.region), 0) + 1
        items: dict[Place, list[Document]] = {}
        for doc in committed.items:
            items.setdefault((doc["account_id"], doc["region"]), []).append(doc)
        whole = [p for p in fresh if observed.get(p) and len(items.get(p, [])) == observed[p]]
        logged = await place_rosters.logged_issue_ids_of(self.store, whole)
        whole = [p for p in whole if not logged[p]]
        issues: dict[Place, list[Document]] = {p: [] for p in whole}
        for doc in committed.issues:
            place = (doc["account_id"], doc["region"])
            if place in issues and doc.get("status") == "open":
                issues[place].append(doc)
        await self.summaries.stored({p: (items[p], issues[p]) for p in whole})
        return whole

    async def _gone(self, rosters: PlaceRosters, events: list[Event]) -> None:
        """Deleted groups: their exposure forgotten, then struck off the roster."""
        await self.exposure.forget(events)
        await rosters.strike([e.key for e in events if e.type == "group.deleted"])

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
        place = (message.account_id, message.region)
        rosters = await self.rosters.read([place])
        listed = sorted(rosters.places[place].entries)
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
            inputs = self.inputs(directory)
            events += await self.settler.settle(list(decision.apply), directory, inputs, rosters)
        if decision.hold is None and hold is not None:
            await self.holds.clear(message)
        await self._gone(rosters, events)
        return events

    def inputs(self, directory: Directory) -> AuditInputs:
        def findings(
            key: str, config: CanonicalGroup, account: str, region: str, attached: Attachments
        ) -> list[Finding]:
            ctx = self.contexts.context(directory, account, region, attached)
            return evaluate(key, config, ctx, self.rules)

        return AuditInputs(self.contexts.digest(directory), findings)

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
                    await self.summaries.changed([place])
            events += made
        await self.outbox.publish(events)
        return events
