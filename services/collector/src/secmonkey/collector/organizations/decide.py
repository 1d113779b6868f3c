"""The pure step of discovery: from what the organization lists, what `accounts` holds and
what discovery recorded before (`organization_accounts`), decide what to write and which
event to raise. No I/O here, so every case is tested without servers.

- An ACTIVE account secmonkey does not know is enrolled: role ARN from the pattern, the
  organization's one ExternalId, labels from its tags; `system.account_enrolled`.
- An ACTIVE account already in `accounts` (from the file or the API) is adopted: its role
  and name are left as they are, only its tag labels are kept up to date; no event.
- A SUSPENDED, PENDING_CLOSURE or CLOSED account, and one discovery knew that is no
  longer in the organization, is disabled (never deleted); `system.account_disabled`.
  An account discovery disabled that is ACTIVE again is enabled again (enrolled).
- An admin's own decisions stand: discovery never re-enables an account it did not
  disable, never touches labels that did not come from tags, and does not re-create an
  account an admin deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from secmonkey.collector.organizations.read import OrgAccount, labels_from_tags
from secmonkey.collector.settings import Settings
from secmonkey.common.documents import Account

ENROLLED = "system.account_enrolled"
DISABLED = "system.account_disabled"
Status = Literal["enrolled", "adopted", "disabled"]


class OrgState(BaseModel):
    """`organization_accounts`: what discovery did to one account, and its unsent events."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str = Field(alias="_id")
    status: Status
    org_status: str = ""
    tag_labels: list[str] = Field(default_factory=list)
    generation: int = 0  # one more at each enrolment or disabling: names its event
    outbox: list[dict[str, object]] = Field(default_factory=list)
    updated_at: datetime | None = None

    def to_mongo(self) -> dict[str, object]:
        return self.model_dump(mode="python", by_alias=True)


@dataclass
class Step:
    """One account's outcome: the new state, the account write (if any), the event (if any)."""

    state: OrgState
    write: Account | None = None
    event: str | None = None
    detail: str = ""
    name: str = ""


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)

    def of(self, event: str) -> list[Step]:
        return [s for s in self.steps if s.event == event]


def merged_labels(current: list[str], old_tags: list[str], new_tags: list[str]) -> list[str]:
    """The account's own labels kept, the tag labels replaced by the tags' current ones."""
    own = [label for label in current if label not in old_tags]
    return own + [label for label in new_tags if label not in own]


def _new_account(org: OrgAccount, settings: Settings, labels: list[str]) -> Account:
    fields: dict[str, object] = {
        "_id": org.id,
        "name": org.name,
        "role_arn": settings.organization_member_role.format(account_id=org.id),
        "external_id": settings.organization_external_id,
        "labels": labels,
        "enabled": True,
    }
    if settings.organization_regions is not None:
        fields["regions"] = settings.organization_regions
    return Account.model_validate(fields)


def _changed(account: Account, labels: list[str], **more: object) -> Account | None:
    """Only the fields that change (name always: `upsert_accounts` sets it)."""
    fields: dict[str, object] = {"_id": account.id, "name": account.name}
    if labels != account.labels:
        fields["labels"] = labels
    fields.update({k: v for k, v in more.items() if getattr(account, k) != v})
    return Account.model_validate(fields) if len(fields) > 2 else None


def _one(
    org: OrgAccount, current: Account | None, state: OrgState | None, settings: Settings
) -> Step | None:
    tags = labels_from_tags(org.tags, settings)
    old_tags = state.tag_labels if state is not None else []
    labels = merged_labels(current.labels if current else [], old_tags, tags)
    base = state or OrgState.model_validate({"_id": org.id, "status": "adopted"})
    new = base.model_copy(update={"org_status": org.status, "tag_labels": tags})
    bump = {"generation": base.generation + 1}
    if org.active:
        if current is None and (state is None or state.status == "disabled"):
            new = new.model_copy(update={"status": "enrolled", **bump})
            return Step(
                new,
                _new_account(org, settings, tags),
                ENROLLED,
                "active in the organization: enrolled",
                org.name,
            )
        if current is None and state is not None and state.outbox:
            # Ours, but its event was never sent: the account write may not have happened.
            return Step(new, _new_account(org, settings, tags), name=org.name)
        if current is None:
            return None  # ours, written, then deleted by an admin: that decision stands
        if state is not None and state.status == "disabled":
            new = new.model_copy(update={"status": "enrolled", **bump})
            write = Account.model_validate(
                {"_id": org.id, "name": current.name, "labels": labels, "enabled": True}
            )
            return Step(
                new, write, ENROLLED, "active in the organization again: enabled", current.name
            )
        if state is None:
            new = new.model_copy(update={"status": "adopted"})
        more = {"name": org.name} if new.status == "enrolled" else {}
        return Step(new, _changed(current, labels, **more), name=current.name)
    if org.closing:
        if current is None:
            return None if state is None else Step(new)
        if state is not None and state.status == "disabled" or not current.enabled:
            # Disabled by discovery before, or by an admin (then it stays the admin's).
            return Step(new, _changed(current, labels), name=current.name)
        new = new.model_copy(update={"status": "disabled", **bump})
        write = Account.model_validate(
            {"_id": org.id, "name": current.name, "labels": labels, "enabled": False}
        )
        detail = f"{org.status.lower().replace('_', ' ')} in the organization: no longer swept"
        return Step(new, write, DISABLED, detail, current.name)
    return None  # PENDING_ACTIVATION: not an account yet


def decide(
    listed: list[OrgAccount],
    accounts: dict[str, Account],
    states: dict[str, OrgState],
    settings: Settings,
) -> Plan:
    """What to write and raise for every account listed, and for those that left."""
    plan = Plan()
    for org in listed:
        step = _one(org, accounts.get(org.id), states.get(org.id), settings)
        if step is not None:
            plan.steps.append(step)
    listed_ids = {org.id for org in listed}
    for account_id, state in states.items():
        current = accounts.get(account_id)
        if account_id in listed_ids or state.status == "disabled":
            continue
        new = state.model_copy(update={"org_status": "GONE", "status": "disabled"})
        if current is None or not current.enabled:
            plan.steps.append(Step(new))
            continue
        new.generation += 1
        write = Account.model_validate({"_id": account_id, "name": current.name, "enabled": False})
        plan.steps.append(
            Step(
                new, write, DISABLED, "no longer in the organization: no longer swept", current.name
            )
        )
    return plan
