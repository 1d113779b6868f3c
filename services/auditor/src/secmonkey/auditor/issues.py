"""Issue lifecycle: findings open issues, vanished findings fix them, returning ones re-open.

A finding whose severity rises (the group became reachable from a public IP, a stricter
rules file) escalates its issue with an `issue.escalated` event; a justified one loses
its justification, which covered the finding as it was, and is open again. A severity
that drops is updated silently.

Every write names the *marker* of the work that made it (a revision, a re-audit, a
justification expiry). When the same work is redone after a crash, an issue already
carrying that marker is not written again; its recorded transition is re-emitted with
the same event id, so no event is lost or doubled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secmonkey.auditor.events import issue_event_id
from secmonkey.auditor.rules.engine import Finding
from secmonkey.common.dates import aware
from secmonkey.common.documents import Issue
from secmonkey.common.messages import EventType, IssueRef
from secmonkey.common.severity import SEVERITY_RANK, Severity
from secmonkey.common.storage import Update

ACTIVE = ("open", "justified")


def expiry_marker(issue_id: str, until: datetime) -> str:
    return f"{issue_id}:expired@{aware(until).isoformat()}"


@dataclass(frozen=True)
class Transition:
    type: EventType
    event_id: str
    issue: IssueRef


@dataclass
class Reconciled:
    """What reconciling one group's findings with its issues decided."""

    writes: list[Update] = field(default_factory=list)
    inserts: list[dict[str, Any]] = field(default_factory=list)  # new issues
    transitions: list[Transition] = field(default_factory=list)
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (status, severity)


def issue_ref(
    doc: dict[str, Any], status: str | None = None, previous_severity: str | None = None
) -> IssueRef:
    return IssueRef(
        issue_id=doc["_id"],
        rule_id=doc["rule_id"],
        severity=Severity(doc["severity"]),
        message=doc["message"],
        rule_text=doc.get("rule_text", ""),
        compliance=list(doc.get("compliance", [])),
        status=status or doc["status"],
        previous_severity=Severity(previous_severity) if previous_severity else None,
    )


def _rose(doc: dict[str, Any], finding: Finding) -> bool:
    return finding.severity.rank > SEVERITY_RANK.get(doc["severity"], len(SEVERITY_RANK))


def _finding_fields(group: dict[str, Any], finding: Finding, at: datetime) -> dict[str, Any]:
    return Issue.fields(
        severity=finding.severity.value,
        severity_rank=finding.severity.rank,
        message=finding.message,
        compliance=list(finding.compliance),
        rule_text=finding.rule_text,
        group_name=group["name"],
        vpc_id=group.get("vpc_id"),
        last_seen=at,
    )


def _still_justified(doc: dict[str, Any], at: datetime) -> bool:
    justification = doc.get("justification") or {}
    until = justification.get("until")
    return bool(justification) and (until is None or aware(until) > at)


def reconcile(
    group: dict[str, Any],
    marker: str,
    at: datetime,
    findings: list[Finding],
    existing: dict[str, dict[str, Any]],
    *,
    deleting: bool = False,
) -> Reconciled:
    """Decide every issue write and transition of one group.

    `group` is the item's new state (key, account, region, name, …); `existing` the
    group's issue documents by id (for a group seen for the first time: none).
    """
    out = Reconciled()
    by_id = {f.issue_id: f for f in findings}

    def transition(
        doc: dict[str, Any],
        event_type: EventType,
        event_marker: str,
        previous_severity: str | None = None,
    ) -> dict[str, Any]:
        event_id = issue_event_id(doc["_id"], event_type, event_marker)
        ref = issue_ref(doc, previous_severity=previous_severity)
        out.transitions.append(Transition(event_type, event_id, ref))
        recorded = {"marker": marker, "event": event_type, "event_id": event_id}
        if previous_severity is not None:
            recorded["previous_severity"] = previous_severity
        return recorded

    for iid in sorted(set(existing) | set(by_id)):
        doc = existing.get(iid)
        finding = by_id.get(iid)
        if doc is not None and (doc.get("transition") or {}).get("marker") == marker:
            recorded = doc["transition"]
            if recorded.get("event"):
                ref = issue_ref(doc, previous_severity=recorded.get("previous_severity"))
                out.transitions.append(Transition(recorded["event"], recorded["event_id"], ref))
            out.statuses[iid] = (doc["status"], doc["severity"])
            continue
        if deleting or finding is None:
            if doc is None:
                continue
            if doc["status"] not in ACTIVE:
                out.statuses[iid] = (doc["status"], doc["severity"])
                continue
            if deleting:
                update = Issue.fields(
                    status="deleted",
                    transition={"marker": marker, "event": None, "event_id": None},
                )
            else:
                after = {**doc, "status": "fixed"}
                update = Issue.fields(
                    status="fixed", fixed_at=at, transition=transition(after, "issue.fixed", marker)
                )
            out.writes.append(Update(iid, {"$set": update}))
            out.statuses[iid] = (update["status"], doc["severity"])
            continue
        fields = _finding_fields(group, finding, at)
        if doc is None:
            new = Issue(
                id=iid,
                key=group["_id"],
                account_id=group["account_id"],
                region=group["region"],
                group_id=group["group_id"],
                rule_id=finding.rule_id,
                **fields,
                status="open",
                opened_at=at,
            ).to_mongo()
            new["transition"] = transition(new, "issue.opened", marker)
            # Inserted, not upserted: one transaction for all (FerretDB); a duplicate is
            # the same issue written by an attempt that stopped before its commit.
            out.inserts.append(new)
            out.statuses[iid] = ("open", fields["severity"])
            continue
        status = doc["status"]
        inc: dict[str, int] = {}
        if status == "justified" and not _still_justified(doc, at):
            until = (doc.get("justification") or {}).get("until")
            event_marker = expiry_marker(iid, until) if until is not None else marker
            status = "open"
            fields["status"] = "open"
            fields["transition"] = transition({**doc, **fields}, "issue.opened", event_marker)
        elif _rose(doc, finding) and (
            status in ("open", "justified") or (status == "deleted" and _still_justified(doc, at))
        ):
            # Open, justified, or justified when its group was deleted: a justification
            # accepted the lower severity, so it lapses (kept aside for the record).
            status = "open"
            fields.update(status="open", fixed_at=None)
            if doc.get("justification"):
                fields.update(justification=None, lapsed_justification=doc["justification"])
            fields["transition"] = transition(
                {**doc, **fields}, "issue.escalated", marker, previous_severity=doc["severity"]
            )
        elif status == "deleted" and _still_justified(doc, at):
            status = "justified"
            fields.update(status="justified", fixed_at=None)
            fields["transition"] = {"marker": marker, "event": None, "event_id": None}
        elif status in ("fixed", "deleted"):
            status = "open"
            fields.update(status="open", fixed_at=None)
            fields["transition"] = transition({**doc, **fields}, "issue.reopened", marker)
            inc = {"reopened": 1}
        change: dict[str, Any] = {"$set": fields}
        if inc:
            change["$inc"] = inc
        out.writes.append(Update(iid, change))
        out.statuses[iid] = (status, fields["severity"])
    return out
