"""The pure decision: stored state + one observation → what should happen to the group.

No I/O: `decide` reads the stored item (a document, or None) and the audit inputs, and
returns a `Touch` (the unchanged hot path: only `last_seen` and perhaps the attachments
move), a `Work` (a new revision, or a re-audit of the current one) or None (a duplicate,
or an observation older than what is stored: history stays).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from secmonkey.auditor.rules.engine import Finding, findings_digest
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot
from secmonkey.common.dates import aware, to_millis
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import Caller, SnapshotBatch, SweepCompleted
from secmonkey.common.storage import Document

WorkKind = Literal["created", "changed", "restored", "deleted", "reaudit"]


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


Source = Observation | Deletion


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
    source: Source | None = None
    blind: bool = False  # decided on the roster, without reading the item

    @property
    def marker(self) -> str:
        """What issue writes of this work are tagged with, so a redo recognises them."""
        if self.kind == "reaudit":
            return f"{self.key}:{self.seq}@{self.observed_at.isoformat()}"
        return f"{self.key}:{self.seq}"

    @property
    def revision_id(self) -> str:
        return f"{self.key}:{self.seq}"

    @property
    def is_revision(self) -> bool:
        return self.kind != "reaudit"


@dataclass(frozen=True)
class Touch:
    """The hot path: the group is unchanged; `last_seen` moves (and what else changed
    without changing its findings), decided on the stored `seq` and `fingerprint`."""

    key: str
    observed_at: datetime
    seq: int
    fingerprint: str
    attachments: dict[str, Any] | None = None
    audit_key: str | None = None  # a new one to keep
    stored_key: str | None = None  # the audit key the item holds (part of the guard)
    known: str = ""  # the group's roster entry after the touch (`known_state`)


@dataclass(frozen=True)
class AuditInputs:
    """Everything besides the group that its findings depend on, as of one message."""

    digest: str  # of the rules, allowlist and accounts
    evaluate: Callable[[str, CanonicalGroup, str, str, Attachments], list[Finding]]


Decision = Touch | Work | None


def audit_key(fingerprint: str, exposure: str, digest: str) -> str:
    """Everything the findings of a group depend on; equal keys mean equal findings."""
    return hashlib.sha256(f"{fingerprint}|{exposure}|{digest}".encode()).hexdigest()[:24]


def attachments_digest(attachments: dict[str, Any]) -> str:
    """Equal digests, equal attachments (the JSON form the item keeps)."""
    text = json.dumps(attachments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def known_state(seq: int, item_audit_key: str | None, attachments: dict[str, Any]) -> str:
    """What the place roster keeps of a group (`known_states`): the item's revision,
    audit key and attachments."""
    return f"{seq}|{item_audit_key or ''}|{attachments_digest(attachments)}"


def exposure_key(attachments: Attachments) -> str:
    """What of a group's attachments its findings depend on (exposure and rule usage)."""
    return attachments.exposure() + attachments.usage_key()


def observations(batch: SnapshotBatch) -> list[Observation]:
    """The groups of a batch (the last one wins if a group appears twice)."""
    found: dict[str, Observation] = {}
    at = to_millis(batch.observed_at)
    for snapshot in batch.groups:
        group_id = snapshot.config.group_id
        key = item_key(batch.account_id, batch.region, group_id)
        found[key] = Observation(
            key=key,
            account_id=batch.account_id,
            region=batch.region,
            snapshot=snapshot,
            observed_at=at,
            sweep_id=batch.sweep_id,
            callers=[c for c in batch.callers if c.names(group_id)],
        )
    return list(found.values())


def event_deletions(batch: SnapshotBatch, seen: set[str]) -> list[Deletion]:
    """Groups an event's targeted describe found gone (`missing_group_ids`): a deletion at
    the describe's instant, unless the same batch saw the group."""
    at = to_millis(batch.observed_at)
    out = []
    for group_id in dict.fromkeys(batch.missing_group_ids):
        key = item_key(batch.account_id, batch.region, group_id)
        if key not in seen:
            callers = [c for c in batch.callers if c.names(group_id)]
            out.append(Deletion(key, at, at, batch.sweep_id, callers))
    return out


def sweep_deletions(message: SweepCompleted, active: list[Document]) -> list[Deletion]:
    """The active groups of the account-region a complete sweep missed and nobody saw
    since it started (`active`: `_id`, `group_id`, `last_seen` of each)."""
    if not message.complete:
        return []
    observed_at = to_millis(message.observed_at)
    cutoff = to_millis(message.started_at) if message.started_at else observed_at
    seen = set(message.group_ids)
    return [
        Deletion(doc["_id"], observed_at, cutoff, message.sweep_id)
        for doc in active
        if doc.get("group_id") not in seen and aware(doc["last_seen"]) < cutoff
    ]


def decide(source: Source, state: Document | None, inputs: AuditInputs) -> Decision:
    """What `source` does to the group whose stored item is `state`."""
    if isinstance(source, Deletion):
        return _decide_deletion(source, state)
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
    key = audit_key(snapshot.fingerprint, exposure_key(snapshot.attachments), inputs.digest)
    if key == state.get("audit_key"):
        return _touch(source, state, None)
    findings = inputs.evaluate(
        source.key, snapshot.config, source.account_id, source.region, snapshot.attachments
    )
    if findings_digest(findings) == state.get("findings_digest"):
        return _touch(source, state, key)
    return _observed("reaudit", source, seq, state, findings)


def _touch(source: Observation, state: Document, new_audit_key: str | None) -> Touch:
    attachments = source.snapshot.attachments.model_dump(mode="json")
    seq = int(state["seq"])
    return Touch(
        key=source.key,
        observed_at=source.observed_at,
        seq=seq,
        fingerprint=state["fingerprint"],
        attachments=attachments if state.get("attachments") != attachments else None,
        audit_key=new_audit_key,
        stored_key=state.get("audit_key"),
        known=known_state(seq, new_audit_key or state.get("audit_key"), attachments),
    )


def _decide_deletion(source: Deletion, state: Document | None) -> Work | None:
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
