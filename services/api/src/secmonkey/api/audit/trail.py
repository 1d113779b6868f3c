"""Recording one audit entry and its `admin.*` event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field

from secmonkey.api.auth import Principal
from secmonkey.api.queries.events import announce, event_message, store_event
from secmonkey.common.messages import Event, SystemRef
from secmonkey.common.outbox import Outbox, Requirement
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database, with_retry

# Fields whose values never enter the audit log: only whether they were set.
SECRET_FIELDS = frozenset({"external_id", "secret", "url", "key", "hash", "password", "token"})
REDACTED = "[redacted]"
Via = Literal["api", "console", "sso"]


class Actor(BaseModel):
    """Who acted: an API key (by id, never by its characters) or a signed-in user."""

    kind: Literal["key", "user", "anonymous"]
    id: str
    name: str
    role: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        kind: Literal["key", "user"] = "user" if principal.user else "key"
        return cls(kind=kind, id=principal.key_id, name=principal.name, role=principal.role)


class AuditEntry(BaseModel):
    """One line of `audit_log`."""

    id: str = Field(validation_alias=AliasChoices("_id", "id"))
    at: datetime
    action: str = Field(description="e.g. key.created, allowlist.forced, console.signed_in")
    target: str = Field(description="what was acted on: a key id, an account id, a name…")
    actor: Actor
    client: str | None = Field(default=None, description="the client's address")
    via: Via = "api"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    severity: Severity = Severity.INFO
    detail: str = ""
    event_id: str | None = None


def redact(value: Any) -> Any:
    """`value` with every secret field replaced (nested dicts too)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=False)
    if isinstance(value, dict):
        return {k: (REDACTED if k in SECRET_FIELDS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def event_type(action: str) -> str:
    return "admin." + action.replace("-", "_")


@dataclass(frozen=True)
class Trail:
    """Where a change is recorded: the database and outbox, who acts, from where, through what."""

    db: Database
    outbox: Outbox
    actor: Actor
    client: str | None
    via: Via = "api"
    principal: Principal | None = None

    async def record(
        self,
        action: str,
        target: str,
        *,
        before: Any = None,
        after: Any = None,
        severity: Severity = Severity.INFO,
        detail: str = "",
    ) -> AuditEntry:
        """Append the entry, then raise its `admin.*` event (stored before it is published)."""
        now = datetime.now(UTC)
        entry = AuditEntry(
            id=uuid.uuid4().hex,
            at=now,
            action=action,
            target=target,
            actor=self.actor,
            client=self.client,
            via=self.via,
            before=redact(before),
            after=redact(after),
            severity=severity,
            detail=detail,
            event_id=uuid.uuid4().hex,
        )
        doc = entry.model_dump(mode="python")
        doc["_id"] = doc.pop("id")
        # The event is stored before the entry it announces, naming it: whichever step a
        # crash interrupts, the outbox sends it exactly when the entry exists.
        event = admin_event(entry)
        message = event_message(event, Requirement("audit_log", {"_id": entry.id}))
        await store_event(self.outbox, message)
        await with_retry(
            lambda: self.db.audit_log.insert_one(doc), what="appending to the audit log"
        )
        await announce(self.db, self.outbox, event, message)
        return entry


def admin_event(entry: AuditEntry) -> Event:
    """The entry as an `admin.*` event: a `system` payload names the subject and the actor,
    so the notifier routes and renders it like secmonkey's own health events."""
    who = f"{entry.actor.kind} {entry.actor.name} ({entry.actor.id})"
    where = f" from {entry.client}" if entry.client else ""
    detail = entry.detail or f"{entry.action} {entry.target}"
    return Event(
        event_id=entry.event_id or entry.id,
        type=event_type(entry.action),
        key=f"admin:{entry.target}",
        at=entry.at,
        system=SystemRef(
            subject=f"{entry.target} by {who}"[:500],
            detail=f"{detail} (by {who}{where}, via {entry.via})"[:2000],
            severity=entry.severity,
        ),
    )
