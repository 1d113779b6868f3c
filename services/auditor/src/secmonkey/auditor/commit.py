"""The slow path's writes: revisions, then issues and events, the search index, and last
the item, which is the commit point.

Every write is idempotent and every id (revision, issue, event) is derived from what it
describes, so work redone after a crash at any point gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secmonkey.auditor.decide import (
    AuditInputs,
    Source,
    Work,
    audit_key,
    exposure_key,
    known_state,
)
from secmonkey.auditor.events import group_event_id, make_event
from secmonkey.auditor.issues import Reconciled, reconcile
from secmonkey.auditor.known_states import PlaceRosters
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.reviews import Reviews
from secmonkey.auditor.revisions import append_revisions, changes_of
from secmonkey.auditor.rule_context import Directory
from secmonkey.auditor.rules.engine import findings_digest
from secmonkey.common import issue_counters
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.cidr import IPRange
from secmonkey.common.documents import Item
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import Event, EventType
from secmonkey.common.search_index.writer import IndexWriter
from secmonkey.common.storage import Document, Store, Update, WriteOp


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


def identity(item: Work, directory: Directory) -> Document:
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


def group_event(item: Work, state: Document) -> Event:
    event_type: EventType = f"group.{item.kind}"  # type: ignore[assignment]
    return make_event(
        event_type,
        group_event_id(item.key, item.seq, event_type),
        item=state,
        at=item.observed_at,
        seq=item.seq,
        changes=changes_of(item),
        callers=item.callers,
    )


def committed_key(item: Work, digest: str) -> str:
    """The audit key the item keeps after this (non-deletion) work."""
    return audit_key(item.fingerprint, exposure_key(item.attachments), digest)


def item_write(
    item: Work, state: Document, outcome: Reconciled, issue_ids: list[str], digest: str
) -> Update | Document:
    """The item write that commits `item`: an update, or a whole new item to insert."""
    findings = item.findings or []
    identity_fields = {k: v for k, v in state.items() if k != "_id"}
    counts = issue_counters.counters(outcome.statuses.values())
    common = Item.fields(
        **identity_fields,
        **counts,
        issue_ids=issue_ids,
        attachments=item.attachments.model_dump(mode="json"),
        findings_digest=findings_digest(findings),
    )
    if item.kind == "deleted":
        fields = common | Item.fields(
            state="deleted",
            deleted_at=item.observed_at,
            last_changed=item.observed_at,
            seq=item.seq,
            audit_key=None,
            open_issues=0,
            max_severity=None,
            max_severity_rank=-1,
        )
        return Update(item.key, {"$set": fields}, guard={"seq": item.seq - 1})
    key = committed_key(item, digest)
    if item.kind == "reaudit":
        change = {"$set": common | Item.fields(audit_key=key)}
        change["$max"] = Item.fields(last_seen=item.observed_at)
        return Update(item.key, change, guard={"seq": item.seq})
    if item.kind == "created":
        return Item(
            id=item.key,
            **common,
            name_lower=item.config.name.lower(),
            state="active",
            config=item.config,
            fingerprint=item.fingerprint,
            first_seen=item.observed_at,
            last_seen=item.observed_at,
            last_changed=item.observed_at,
            seq=item.seq,
            ranges=ranges_of(item.config),
            audit_key=key,
            sweep_id=item.sweep_id,
        ).to_mongo()
    revised = common | Item.fields(
        audit_key=key,
        state="active",
        deleted_at=None,
        name_lower=item.config.name.lower(),
        config=item.config.storage_doc(),
        fingerprint=item.fingerprint,
        last_changed=item.observed_at,
        seq=item.seq,
        ranges=ranges_of(item.config),
        sweep_id=item.sweep_id,
    )
    change = {
        "$set": revised,
        "$max": Item.fields(last_seen=item.observed_at),
        "$min": Item.fields(first_seen=item.observed_at),
    }
    return Update(item.key, change, guard={"seq": item.seq - 1})


@dataclass
class Committed:
    """What a pass's commits inserted: new items and new issues (whole documents)."""

    items: list[Document] = field(default_factory=list)
    issues: list[Document] = field(default_factory=list)


class Committer:
    """Applies the slow-path work of one round."""

    def __init__(self, store: Store, outbox: Outbox, index: IndexWriter) -> None:
        self.store = store
        self.outbox = outbox
        self.index = index
        self.reviews = Reviews(store)

    async def apply(
        self,
        work: list[Work],
        directory: Directory,
        inputs: AuditInputs,
        rosters: PlaceRosters,
        committed: Committed | None = None,
    ) -> tuple[list[Event], list[Source]]:
        """Commit `work` (of the account-regions of `rosters`); the events it produced and
        the sources to decide again. The items and issues inserted go to `committed`."""
        if not work:
            return [], []
        for item in work:
            fresh = item.is_revision and not item.resumed
            if fresh and item.config.fingerprint() != item.fingerprint:
                raise InvalidInput(
                    f"group {item.config.group_id}: fingerprint {item.fingerprint[:12]}… "
                    "does not match its configuration"
                )
        retry: list[Source] = []
        # Unknown on the roster before anything is written (entered if absent).
        await rosters.unknown([w.key for w in work])
        work = await append_revisions(self.store, work, retry)
        issue_ids: list[str] = []
        for item in work:
            if item.findings is None and item.kind != "deleted":
                item.findings = inputs.evaluate(
                    item.key, item.config, item.account_id, item.region, item.attachments
                )
            if item.previous is not None:
                issue_ids.extend(item.previous.get("issue_ids") or [])
                issue_ids.extend(f.issue_id for f in item.findings or [])
        existing = await self.store.read("issues", issue_ids)

        issue_writes: list[WriteOp] = []
        issue_inserts: list[Document] = []
        item_updates: list[WriteOp] = []
        item_inserts: list[Document] = []
        events: list[Event] = []
        for item in work:
            state = identity(item, directory)
            known = set(item.previous.get("issue_ids") or []) if item.previous else set()
            findings = item.findings or []
            known.update(f.issue_id for f in findings)
            mine = {iid: existing[iid] for iid in known if iid in existing}
            outcome = reconcile(
                state, item.marker, item.observed_at, findings, mine,
                deleting=item.kind == "deleted",
            )  # fmt: skip
            issue_writes.extend(outcome.writes)
            issue_inserts.extend(outcome.inserts)
            if item.is_revision:
                events.append(group_event(item, state))
            events.extend(
                make_event(
                    t.type,
                    t.event_id,
                    item=state,
                    at=item.observed_at,
                    seq=item.seq,
                    issue=t.issue,
                    callers=item.callers,
                )  # fmt: skip
                for t in outcome.transitions
            )
            commit = item_write(item, state, outcome, sorted(known), inputs.digest)
            if isinstance(commit, Update):
                item_updates.append(commit)
            else:
                item_inserts.append(commit)
        await self.store.insert("issues", issue_inserts)
        await self.store.write("issues", issue_writes)
        events.extend(await self.reviews.on_commit(work, directory))
        await self.outbox.store(events)
        await self.index.file([w for w in work if w.is_revision], directory.account_name)
        # The items are the commit point. A new one is inserted (one transaction for the
        # whole batch); a duplicate is the same item committed by a competing writer.
        refused = await self.store.insert("items", item_inserts)
        await self.store.write("items", item_updates)
        if committed is not None:
            committed.items += [d for i, d in enumerate(item_inserts) if i not in refused]
            committed.issues += issue_inserts
        # What is now known of each group (a deleted one is struck off once its exposure
        # is forgotten: `Auditor._gone`).
        await rosters.learn(
            {
                w.key: known_state(
                    w.seq, committed_key(w, inputs.digest), w.attachments.model_dump(mode="json")
                )
                for w in work
                if w.kind != "deleted"
            }
        )
        return events, retry
