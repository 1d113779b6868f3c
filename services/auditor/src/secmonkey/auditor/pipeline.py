"""The auditor's work on one message: history, audit, issues and events.

For each group of a SnapshotBatch the stored item decides the path:

- unchanged (same fingerprint, same audit inputs): only `last_seen` moves; all such
  groups of a batch go in one bulk write after one read of the batch's items — the hot
  path;
- new, changed, restored: a revision is inserted first. Its `_id` `<key>:<seq>` is unique,
  so of two writers only one appends revision n+1 (the other finds it, completes it if it
  is not its own, and re-reads). Then issues, events and finally the item are written;
  the item is the commit point.
- same configuration but different audit inputs (exposure, rules, allowlist, accounts):
  the rules run again and issues follow, without a revision.

Every write is idempotent and every id (revision, issue, event) is derived from what it
describes, so a message processed again after a crash at any point gives the same
result, and duplicates or older observations change nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pymongo import DeleteOne, ReplaceOne, UpdateOne

from secmonkey.auditor.changes import change_list, config_doc, diff
from secmonkey.auditor.context import ContextSource, Directory
from secmonkey.auditor.events import event_doc, event_from_doc, group_event_id, make_event
from secmonkey.auditor.issues import Reconciled, aware, expiry_marker, reconcile
from secmonkey.auditor.rules.config import RulesConfig
from secmonkey.auditor.rules.engine import Finding, evaluate, findings_digest
from secmonkey.auditor.store import Store, WriteOp
from secmonkey.common import amqp, postings
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot
from secmonkey.common.cidr import IPRange
from secmonkey.common.errors import InvalidInput, TransientError
from secmonkey.common.messages import (
    EVENTS_EXCHANGE,
    Caller,
    Event,
    EventType,
    SnapshotBatch,
    SweepCompleted,
    item_key,
    utcnow,
)
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database, Document

log = logging.getLogger(__name__)

WorkKind = Literal["created", "changed", "restored", "deleted", "reaudit"]
MAX_ROUNDS = 5


@dataclass
class Observation:
    """One group as a SnapshotBatch saw it."""

    key: str
    account_id: str
    region: str
    snapshot: GroupSnapshot
    observed_at: datetime
    sweep_id: str | None
    callers: list[Caller] = field(default_factory=list)


@dataclass
class Deletion:
    """A group a complete sweep did not see, or that an event's describe found gone."""

    key: str
    observed_at: datetime
    cutoff: datetime
    sweep_id: str
    callers: list[Caller] = field(default_factory=list)


@dataclass
class Work:
    """One group's slow-path change: a new revision, or a re-audit of the current one."""

    kind: WorkKind
    key: str
    seq: int
    config: CanonicalGroup
    fingerprint: str
    attachments: Attachments
    observed_at: datetime
    sweep_id: str | None
    previous: Document | None
    account_id: str
    region: str
    callers: list[Caller] = field(default_factory=list)
    findings: list[Finding] | None = None
    resumed: bool = False
    source: Observation | Deletion | None = None

    @property
    def marker(self) -> str:
        if self.kind == "reaudit":
            return f"{self.key}:{self.seq}@{self.observed_at.isoformat()}"
        return f"{self.key}:{self.seq}"

    @property
    def revision_id(self) -> str:
        return f"{self.key}:{self.seq}"


def to_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: compare and store observation times at that precision."""
    value = aware(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def audit_key(fingerprint: str, exposure: str, digest: str) -> str:
    """Everything the findings of a group depend on; equal keys mean equal findings."""
    return hashlib.sha256(f"{fingerprint}|{exposure}|{digest}".encode()).hexdigest()[:24]


def ranges_of(config: CanonicalGroup) -> list[dict[str, Any]]:
    """`items.ranges`: the numeric range of every CIDR rule, for IP/CIDR search."""
    out = []
    for index, rule in enumerate(config.rules):
        if rule.source_kind in ("cidr4", "cidr6"):
            try:
                doc = IPRange.of(rule.source).to_doc()
            except InvalidInput:
                continue
            out.append({**doc, "rule": index, "direction": rule.direction})
    return out


class Auditor:
    """Applies SnapshotBatch and SweepCompleted messages to MongoDB and publishes the events.

    `handle` is safe to call again with the same message at any time.
    """

    def __init__(
        self,
        db: Database,
        rules: RulesConfig,
        publisher: amqp.Publisher | None = None,
        *,
        context_ttl: float = 0.0,
        read_concurrency: int = 8,
        guarded: bool | None = None,
    ) -> None:
        self.db = db
        self.rules = rules
        self.publisher = publisher
        self.store = Store(db, read_concurrency=read_concurrency, guarded=guarded)
        self.contexts = ContextSource(db, rules, context_ttl)
        self._one_at_a_time = asyncio.Lock()

    async def handle(self, message: SnapshotBatch | SweepCompleted) -> list[Event]:
        """Apply one message; the events it produced (already stored, and published)."""
        if await self.store.guarded():
            return await self._handle(message)
        # FerretDB: one message at a time per process (see store.py); SQLite has one
        # writer anyway, so this costs little and avoids exhausting its connections.
        async with self._one_at_a_time:
            return await self._handle(message)

    async def _handle(self, message: SnapshotBatch | SweepCompleted) -> list[Event]:
        if isinstance(message, SnapshotBatch):
            events = await self.apply_batch(message)
        elif isinstance(message, SweepCompleted):
            events = await self.apply_sweep(message)
        else:  # pragma: no cover - the parser only yields these two
            raise InvalidInput(f"unexpected message {type(message).__name__}")
        await self.publish(events)
        return events

    # -- SnapshotBatch -------------------------------------------------------------------

    async def apply_batch(self, batch: SnapshotBatch) -> list[Event]:
        observations: dict[str, Observation] = {}
        for snapshot in batch.groups:
            key = item_key(batch.account_id, batch.region, snapshot.config.group_id)
            observations[key] = Observation(
                key=key,
                account_id=batch.account_id,
                region=batch.region,
                snapshot=snapshot,
                observed_at=to_millis(batch.observed_at),
                sweep_id=batch.sweep_id,
                callers=[c for c in batch.callers if c.names(snapshot.config.group_id)],
            )
        # An event's targeted describe found these gone (`source: event`): a deletion at
        # the describe's instant, unless the group was seen at or after it.
        at = to_millis(batch.observed_at)
        deletions = [
            Deletion(key, at, at, batch.sweep_id, [c for c in batch.callers if c.names(group_id)])
            for group_id, key in (
                (group_id, item_key(batch.account_id, batch.region, group_id))
                for group_id in dict.fromkeys(batch.missing_group_ids)
            )
            if key not in observations
        ]
        if not observations and not deletions:
            return []
        directory = await self.contexts.directory()
        events: list[Event] = []
        if observations:
            events += await self._settle(list(observations.values()), directory)
        if deletions:
            events += await self._settle(deletions, directory)
        return events

    async def _settle(
        self, sources: list[Observation] | list[Deletion], directory: Directory
    ) -> list[Event]:
        """Decide and apply, re-reading and retrying what lost a race (bounded)."""
        events: list[Event] = []
        pending: list[Observation | Deletion] = list(sources)
        for _ in range(MAX_ROUNDS):
            if not pending:
                return events
            states = await self.store.read("items", [s.key for s in pending])
            hot: list[UpdateOne] = []
            hot_sources: list[Observation | Deletion] = []
            work: list[Work] = []
            for source in pending:
                decision = self._decide(source, states.get(source.key), directory)
                if isinstance(decision, UpdateOne):
                    hot.append(decision)
                    hot_sources.append(source)
                elif decision is not None:
                    work.append(decision)
            for item in work:
                fresh = item.kind in ("created", "changed", "restored") and not item.resumed
                if fresh and item.config.fingerprint() != item.fingerprint:
                    raise InvalidInput(
                        f"group {item.config.group_id}: fingerprint {item.fingerprint[:12]}… "
                        "does not match its configuration"
                    )
            done, retry = await self._apply(work, directory)
            events.extend(done)
            pending = retry
            if hot:
                matched = await self.store.write("items", hot)
                if matched < len(hot) and await self.store.guarded():
                    pending.extend(hot_sources)  # someone moved them meanwhile: re-decide
        if pending:
            raise TransientError(f"history of {pending[0].key} kept changing; retrying later")
        return events

    def _decide(
        self, source: Observation | Deletion, state: Document | None, directory: Directory
    ) -> UpdateOne | Work | None:
        if isinstance(source, Deletion):
            return self._decide_deletion(source, state)
        at = source.observed_at
        snapshot = source.snapshot
        if state is None:
            return _observed("created", source, 1, None)
        seq = int(state["seq"])
        if state.get("state") == "deleted":
            deleted_at = state.get("deleted_at")
            if deleted_at is not None and at <= aware(deleted_at):
                return None
            return _observed("restored", source, seq + 1, state)
        if at <= aware(state["last_seen"]):
            return None  # a duplicate, or older than what is stored: history stays
        if snapshot.fingerprint != state["fingerprint"]:
            return _observed("changed", source, seq + 1, state)
        digest = self.contexts.digest(directory)
        key = audit_key(snapshot.fingerprint, snapshot.attachments.exposure(), digest)
        if key == state.get("audit_key"):
            return self._hot(source, state, None)
        ctx = self.contexts.context(
            directory, source.account_id, source.region, snapshot.attachments
        )
        findings = evaluate(source.key, snapshot.config, ctx, self.rules)
        if findings_digest(findings) == state.get("findings_digest"):
            return self._hot(source, state, key)
        return _observed("reaudit", source, seq, state, findings)

    def _hot(self, source: Observation, state: Document, new_audit_key: str | None) -> UpdateOne:
        changes: dict[str, Any] = {}
        attachments = source.snapshot.attachments.model_dump(mode="json")
        if state.get("attachments") != attachments:
            changes["attachments"] = attachments
        if new_audit_key is not None:
            changes["audit_key"] = new_audit_key
        update: dict[str, Any] = {"$max": {"last_seen": source.observed_at}}
        if changes:
            update["$set"] = changes
        query: dict[str, Any] = {"_id": source.key}
        if self.store.is_guarded:
            query.update(seq=state["seq"], fingerprint=state["fingerprint"], state="active")
        return UpdateOne(query, update)

    # -- SweepCompleted ------------------------------------------------------------------

    async def apply_sweep(self, message: SweepCompleted) -> list[Event]:
        """Mark deleted every active group of the account-region a complete sweep missed."""
        if not message.complete:
            log.info(
                "sweep %s of %s/%s incomplete (%s): nothing is deleted",
                message.sweep_id,
                message.account_id,
                message.region,
                message.error or "no reason given",
            )
            return []
        observed_at = to_millis(message.observed_at)
        cutoff = to_millis(message.started_at) if message.started_at else observed_at
        seen = set(message.group_ids)
        query = {"account_id": message.account_id, "region": message.region, "state": "active"}
        projection = {"_id": 1, "group_id": 1, "last_seen": 1}
        candidates = [
            Deletion(doc["_id"], observed_at, cutoff, message.sweep_id)
            async for doc in self.db.items.find(query, projection)
            if doc.get("group_id") not in seen and aware(doc["last_seen"]) < cutoff
        ]
        if not candidates:
            return []
        directory = await self.contexts.directory()
        return await self._settle(candidates, directory)

    def _decide_deletion(self, source: Deletion, state: Document | None) -> Work | None:
        if state is None or state.get("state") != "active":
            return None
        if aware(state["last_seen"]) >= source.cutoff:
            return None  # seen since the sweep started (an event-driven snapshot)
        return Work(
            kind="deleted",
            key=source.key,
            seq=int(state["seq"]) + 1,
            config=CanonicalGroup.model_validate(state["config"]),
            fingerprint=state["fingerprint"],
            attachments=Attachments.model_validate(state.get("attachments") or {}),
            observed_at=source.observed_at,
            sweep_id=source.sweep_id,
            previous=state,
            account_id=state["account_id"],
            region=state["region"],
            callers=list(source.callers),
            source=source,
        )

    # -- the slow path -------------------------------------------------------------------

    async def _apply(
        self, work: list[Work], directory: Directory
    ) -> tuple[list[Event], list[Observation | Deletion]]:
        if not work:
            return [], []
        retry: list[Observation | Deletion] = []
        work = await self._append_revisions(work, retry)
        issue_ids: list[str] = []
        for item in work:
            if item.findings is None and item.kind != "deleted":
                ctx = self.contexts.context(
                    directory, item.account_id, item.region, item.attachments
                )
                item.findings = evaluate(item.key, item.config, ctx, self.rules)
            if item.previous is not None:
                issue_ids.extend(item.previous.get("issue_ids") or [])
                issue_ids.extend(f.issue_id for f in item.findings or [])
        existing = await self.store.read("issues", issue_ids)

        issue_writes: list[WriteOp] = []
        issue_inserts: list[Document] = []
        item_writes: list[WriteOp] = []
        item_inserts: list[Document] = []
        events: list[Event] = []
        digest = self.contexts.digest(directory)
        for item in work:
            state = self._item_state(item, directory)
            known = set(item.previous.get("issue_ids") or []) if item.previous else set()
            findings = item.findings or []
            known.update(f.issue_id for f in findings)
            mine = {iid: existing[iid] for iid in known if iid in existing}
            outcome = reconcile(
                state,
                item.marker,
                item.observed_at,
                findings,
                mine,
                deleting=item.kind == "deleted",
            )
            issue_writes.extend(outcome.writes)
            issue_inserts.extend(outcome.inserts)
            if item.kind != "reaudit":
                events.append(self._group_event(item, state))
            events.extend(
                make_event(
                    t.type,
                    t.event_id,
                    item=state,
                    at=item.observed_at,
                    seq=item.seq,
                    issue=t.issue,
                    callers=item.callers,
                )
                for t in outcome.transitions
            )
            commit = self._commit(item, state, outcome, sorted(known), digest)
            if isinstance(commit, UpdateOne):
                item_writes.append(commit)
            else:
                item_inserts.append(commit)
        await self.store.insert("issues", issue_inserts)
        await self.store.write("issues", issue_writes)
        await self._store_events(events)
        await self._file_lookups(work, directory)
        # The items are the commit point. A new one is inserted (one transaction for the
        # whole batch); a duplicate is the same item committed by a competing writer.
        await self.store.insert("items", item_inserts)
        await self.store.write("items", item_writes)
        return events, retry

    async def _file_lookups(self, work: list[Work], directory: Directory) -> None:
        """The search postings and group-ID lookups of these changes, before their commit.

        Each group's lookups are written as of its new revision (`seq`) and never replace
        those of a later one, so a replay after a crash, or a competing writer's late
        write, leaves the newest revision's lookups in place.
        """
        changes = [w for w in work if w.kind != "reaudit"]
        writes = postings.group_id_writes(
            [
                self._item_state(w, directory)
                | {
                    "state": "deleted" if w.kind == "deleted" else "active",
                    "deleted_at": w.observed_at if w.kind == "deleted" else None,
                    "seq": w.seq,
                }
                for w in changes
            ]
        )
        for w in changes:
            writes.extend(postings.delta_writes(_postings_before(w), _postings_after(w), w.seq))
        await self._write_lookups(writes)

    async def _write_lookups(self, writes: postings.LookupWrites) -> None:
        for name in writes.collections():
            await self.store.insert(name, [{"_id": i} for i in sorted(writes.creates[name])])
            await self.store.write(name, writes.updates[name])
        for name in sorted({name for name, _ in writes.edits}):
            await self._edit(name, {d: e for (n, d), e in writes.edits.items() if n == name})

    async def _edit(
        self, collection: str, edits: dict[str, postings.PostingEdit | postings.GroupIdEdit]
    ) -> None:
        """Read, edit and replace lookup documents; on MongoDB each replacement is
        conditional on the version read, and what lost to another writer is redone."""
        pending = sorted(edits)
        for _ in range(MAX_ROUNDS):
            if not pending:
                return
            current = await self.store.read(collection, pending)
            inserts: list[Document] = []
            replaces: list[WriteOp] = []
            for doc_id in pending:
                doc = current.get(doc_id)
                fields = edits[doc_id].apply(doc)
                if doc is None:
                    inserts.append({"_id": doc_id, **fields, "v": 1})
                    continue
                if all(doc.get(k) == v for k, v in fields.items()):
                    continue  # already applied (a replay)
                query: Document = {"_id": doc_id}
                if self.store.is_guarded:
                    query["v"] = doc.get("v", 0)
                replaces.append(ReplaceOne(query, {**fields, "v": int(doc.get("v", 0)) + 1}))
            refused = await self.store.insert(collection, inserts)
            matched = await self.store.write(collection, replaces)
            if not refused and matched == len(replaces):
                return
            # Lost a race (a duplicate insert, a version moved): edit the fresh documents.
            pending = sorted({inserts[i]["_id"] for i in refused} | set(pending))
        raise TransientError(f"{collection} {pending[0]} kept changing; retrying later")

    async def ensure_lookups(self) -> int:
        """File the postings and group-ID lookups of items stored before they existed.

        Runs once per database (a marker records it); idempotent if replicas race.
        """
        ranges = self.db[postings.RANGES]
        if await ranges.find_one({"_id": postings.BUILT_ID}) is not None:
            return 0
        count = 0
        projection = dict.fromkeys(postings.RESOLUTION_FIELDS, 1)
        projection |= {"_id": 1, "group_id": 1, "deleted_at": 1, "config": 1, "seq": 1}
        batch: list[Document] = []

        async def flush() -> None:
            writes = postings.group_id_writes(batch)
            for d in batch:
                if d.get("state") == "active":
                    config = CanonicalGroup.model_validate(d["config"])
                    filed = postings.postings_of(d["_id"], config)
                    writes.extend(postings.delta_writes([], filed, int(d["seq"])))
            await self._write_lookups(writes)
            batch.clear()

        async for doc in self.db.items.find({}, projection):
            batch.append(doc)
            count += 1
            if len(batch) >= 500:
                await flush()
        await flush()
        await ranges.update_one(
            {"_id": postings.BUILT_ID}, {"$set": {"items": count, "at": utcnow()}}, upsert=True
        )
        log.info("filed search lookups of %d stored groups", count)
        return count

    async def _append_revisions(
        self, work: list[Work], retry: list[Observation | Deletion]
    ) -> list[Work]:
        """Insert the new revisions; resolve those another writer already inserted."""
        fresh = [w for w in work if w.kind != "reaudit" and not w.resumed]
        docs = [self._revision_doc(w) for w in fresh]
        refused = await self.store.insert("revisions", docs)
        if not refused:
            return work
        stored = await self.store.read("revisions", [docs[i]["_id"] for i in refused])
        replaced: dict[int, Work | None] = {}
        for index in refused:
            mine = fresh[index]
            revision = stored.get(docs[index]["_id"])
            if revision is None:
                # The (key, fingerprint, observed_at) index refused it: already recorded.
                log.warning("observation of %s at %s already recorded", mine.key, mine.observed_at)
                replaced[id(mine)] = None
            elif (
                revision["fingerprint"] == mine.fingerprint
                and aware(revision["observed_at"]) == mine.observed_at
                and revision["change_type"] == mine.kind
            ):
                mine.resumed = True  # ours, from an attempt that did not finish
            else:
                log.info("completing revision %s found in place of ours", revision["_id"])
                replaced[id(mine)] = self._work_from_revision(revision, mine.previous)
                if mine.source is not None:
                    retry.append(mine.source)
        out: list[Work] = []
        for item in work:
            if id(item) in replaced:
                other = replaced[id(item)]
                if other is not None:
                    out.append(other)
            else:
                out.append(item)
        return out

    def _work_from_revision(self, revision: Document, previous: Document | None) -> Work:
        return Work(
            kind=revision["change_type"],
            key=revision["key"],
            seq=int(revision["seq"]),
            config=CanonicalGroup.model_validate(revision["config"]),
            fingerprint=revision["fingerprint"],
            attachments=Attachments.model_validate(revision.get("attachments") or {}),
            observed_at=aware(revision["observed_at"]),
            sweep_id=revision.get("sweep_id"),
            previous=previous,
            account_id=revision["account_id"],
            region=revision["region"],
            callers=[Caller.model_validate(c) for c in revision.get("callers") or []],
            resumed=True,
        )

    def _previous_config(self, item: Work) -> CanonicalGroup | None:
        if item.previous is None:
            return None
        return CanonicalGroup.model_validate(item.previous["config"])

    def _changes(self, item: Work) -> list[str]:
        if item.kind == "deleted":
            return [f"deleted: absent from complete sweep {item.sweep_id}"]
        previous = self._previous_config(item)
        lines = change_list(previous, item.config)
        return ["restored", *lines] if item.kind == "restored" else lines

    def _revision_doc(self, item: Work) -> Document:
        previous = self._previous_config(item)
        changed = previous is not None and item.kind in ("changed", "restored")
        return {
            "_id": item.revision_id,
            "key": item.key,
            "seq": item.seq,
            "account_id": item.account_id,
            "region": item.region,
            "group_id": item.config.group_id,
            "change_type": item.kind,
            "fingerprint": item.fingerprint,
            "config": config_doc(item.config),
            "attachments": item.attachments.model_dump(mode="json"),
            "diff": diff(previous, item.config) if changed and previous is not None else None,
            "changes": self._changes(item),
            "observed_at": item.observed_at,
            "sweep_id": item.sweep_id,
            "callers": [c.model_dump(mode="python") for c in item.callers],
        }

    def _item_state(self, item: Work, directory: Directory) -> Document:
        """The item's identity fields after this work (what events and issues name)."""
        config = item.config
        return {
            "_id": item.key,
            "account_id": item.account_id,
            "account_name": directory.account_name(item.account_id),
            "region": item.region,
            "vpc_id": config.vpc_id,
            "group_id": config.group_id,
            "name": config.name,
        }

    def _group_event(self, item: Work, state: Document) -> Event:
        event_type: EventType = f"group.{item.kind}"  # type: ignore[assignment]
        return make_event(
            event_type,
            group_event_id(item.key, item.seq, event_type),
            item=state,
            at=item.observed_at,
            seq=item.seq,
            changes=self._changes(item),
            callers=item.callers,
        )

    def _commit(
        self,
        item: Work,
        state: Document,
        outcome: Reconciled,
        issue_ids: list[str],
        digest: str,
    ) -> UpdateOne | Document:
        """The item write that commits `item`: an update, or a new item to insert."""
        findings = item.findings or []
        fields: dict[str, Any] = {
            **{k: v for k, v in state.items() if k != "_id"},
            **outcome.counters(),
            "issue_ids": issue_ids,
            "attachments": item.attachments.model_dump(mode="json"),
            "findings_digest": findings_digest(findings),
        }
        update: dict[str, Any] = {}
        if item.kind == "deleted":
            fields.update(
                state="deleted",
                deleted_at=item.observed_at,
                last_changed=item.observed_at,
                seq=item.seq,
                audit_key=None,
                open_issues=0,
                max_severity=None,
                max_severity_rank=-1,
            )
        else:
            fields["audit_key"] = audit_key(item.fingerprint, item.attachments.exposure(), digest)
            update["$max"] = {"last_seen": item.observed_at}
            if item.kind != "reaudit":
                fields.update(
                    state="active",
                    deleted_at=None,
                    name_lower=item.config.name.lower(),
                    config=config_doc(item.config),
                    fingerprint=item.fingerprint,
                    last_changed=item.observed_at,
                    seq=item.seq,
                    ranges=ranges_of(item.config),
                    sweep_id=item.sweep_id,
                )
                update["$min"] = {"first_seen": item.observed_at}
        if item.kind == "created":
            return {
                "_id": item.key,
                **fields,
                "first_seen": item.observed_at,
                "last_seen": item.observed_at,
            }
        update["$set"] = fields
        query: dict[str, Any] = {"_id": item.key}
        if self.store.is_guarded:
            query["seq"] = item.seq if item.kind == "reaudit" else item.seq - 1
        return UpdateOne(query, update)

    # -- events --------------------------------------------------------------------------

    async def _store_events(self, events: list[Event]) -> None:
        if not events:
            return
        if self.publisher is not None:
            # The outbox remembers what still has to be published should we stop before.
            now = utcnow()
            await self.store.insert("outbox", [{"_id": e.event_id, "at": now} for e in events])
        await self.store.insert("events", [event_doc(e) for e in events])

    async def publish(self, events: list[Event]) -> None:
        """Publish on `secmonkey.events` (routing key = type, message id = event id)."""
        if self.publisher is None or not events:
            return
        await self.publisher.publish_many(
            EVENTS_EXCHANGE, [(e.type, e, e.event_id) for e in events]
        )
        await self.store.write("outbox", [DeleteOne({"_id": e.event_id}) for e in events])

    async def republish_outbox(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Publish events stored by a run that stopped before publishing them."""
        if self.publisher is None:
            return 0
        cutoff = utcnow() - older_than
        entries = await self.db.outbox.find({"at": {"$lte": cutoff}}).to_list(1000)
        if not entries:
            return 0
        stored = await self.store.read("events", [e["_id"] for e in entries])
        events = [event_from_doc(stored[e["_id"]]) for e in entries if e["_id"] in stored]
        if events:
            await self.publisher.publish_many(
                EVENTS_EXCHANGE, [(e.type, e, e.event_id) for e in events]
            )
        await self.store.write("outbox", [DeleteOne({"_id": e["_id"]}) for e in entries])
        return len(events)

    # -- justifications ------------------------------------------------------------------

    async def expire_justifications(self, now: datetime | None = None) -> list[Event]:
        """Re-open justified issues whose justification has expired (publishes the events)."""
        if await self.store.guarded():
            return await self._expire(now)
        async with self._one_at_a_time:
            return await self._expire(now)

    async def _expire(self, now: datetime | None) -> list[Event]:
        now = to_millis(now or utcnow())
        query = {"status": "justified", "justification.until": {"$lte": now}}
        expired = await self.db.issues.find(query).to_list(None)
        if not expired:
            return []
        directory = await self.contexts.directory()
        by_key: dict[str, list[Document]] = {}
        for doc in expired:
            by_key.setdefault(doc["key"], []).append(doc)
        items = await self.store.read("items", list(by_key))
        writes: list[WriteOp] = []
        item_writes: list[WriteOp] = []
        events: list[Event] = []
        for key, docs in by_key.items():
            item = items.get(key)
            if item is None:
                continue
            others = await self.store.read("issues", item.get("issue_ids") or [])
            for doc in docs:
                until = aware(doc["justification"]["until"])
                marker = expiry_marker(doc["_id"], until)
                after = {**doc, "status": "open"}
                outcome = reconcile(
                    {**item, "account_name": directory.account_name(item["account_id"])},
                    marker,
                    until,
                    [_finding_of(doc)],
                    {doc["_id"]: doc},
                )
                writes.extend(outcome.writes)
                others[doc["_id"]] = after
                events.extend(
                    make_event(
                        t.type, t.event_id, item=item, at=until, seq=item.get("seq"), issue=t.issue
                    )
                    for t in outcome.transitions
                )
            counts = Reconciled(
                statuses={i: (d["status"], d["severity"]) for i, d in others.items()}
            ).counters()
            item_writes.append(UpdateOne({"_id": key}, {"$set": counts}))
        await self.store.write("issues", writes)
        await self._store_events(events)
        await self.store.write("items", item_writes)
        await self.publish(events)
        return events


def _postings_before(item: Work) -> list[postings.Posting]:
    previous = item.previous
    if previous is None or previous.get("state") != "active":
        return []  # new, or deleted (a deletion removed its postings)
    return postings.postings_of(item.key, CanonicalGroup.model_validate(previous["config"]))


def _postings_after(item: Work) -> list[postings.Posting]:
    return [] if item.kind == "deleted" else postings.postings_of(item.key, item.config)


def _observed(
    kind: WorkKind,
    source: Observation,
    seq: int,
    previous: Document | None,
    findings: list[Finding] | None = None,
) -> Work:
    return Work(
        kind=kind,
        key=source.key,
        seq=seq,
        config=source.snapshot.config,
        fingerprint=source.snapshot.fingerprint,
        attachments=source.snapshot.attachments,
        observed_at=source.observed_at,
        sweep_id=source.sweep_id,
        previous=previous,
        account_id=source.account_id,
        region=source.region,
        callers=source.callers,
        findings=findings,
        source=source,
    )


def _finding_of(doc: Document) -> Finding:
    return Finding(
        issue_id=doc["_id"],
        rule_id=doc["rule_id"],
        severity=Severity(doc["severity"]),
        message=doc["message"],
        rule_text=doc.get("rule_text", ""),
        compliance=tuple(doc.get("compliance") or ()),
    )
