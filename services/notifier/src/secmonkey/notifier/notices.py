"""What a person reads about an event, whatever the channel: a headline, the facts, a link.

A `system.*` event (secmonkey's own health) names no group: its headline is its
severity (or `RESOLVED`), what went wrong and its subject; its facts are the subject, the
detail and since when; its link is the event feed of its kind. An event type this build
does not know (from a newer producer) is shown by its type and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from secmonkey.common.messages import Event
from secmonkey.common.severity import Severity

_LABELS = {
    "group.created": "NEW GROUP",
    "group.changed": "CHANGED",
    "group.deleted": "DELETED",
    "group.restored": "RESTORED",
    "issue.fixed": "FIXED",
    "issue.justified": "JUSTIFIED",
    "change.pending": "REVIEW NEEDED",
    "change.approved": "APPROVED",
    "change.rejected": "UNAUTHORIZED CHANGE",
    "change.overdue": "REVIEW OVERDUE",
    "change.anchored": "CHAIN ANCHORED",
}
_SYSTEM_TITLES = {
    "system.sweep_overdue": "sweep overdue",
    "system.dead_letters_growing": "dead letters growing",
    "system.undelivered_growing": "undelivered alerts growing",
    "system.consumer_not_ready": "consumer not ready",
}
_RESOLVED = "_resolved"
_TIME = "%Y-%m-%d %H:%M:%S UTC"


def group_link(public_url: str, event: Event) -> str:
    """The group in the API: `<public_url>/api/v1/groups/<group_id>?account_id=..&region=..`."""
    query = urlencode({"account_id": event.account_id, "region": event.region})
    return f"{public_url.rstrip('/')}/api/v1/groups/{quote(event.group_id or '', safe='')}?{query}"


def feed_link(public_url: str, event: Event) -> str:
    """The event feed of this kind of event (raised and resolved), of its account if any."""
    base = event.type.removesuffix(_RESOLVED)
    params = [("type", base)] + ([("type", base + _RESOLVED)] if base in _SYSTEM_TITLES else [])
    if event.account_id:
        params.append(("account_id", event.account_id))
    return f"{public_url.rstrip('/')}/api/v1/events?{urlencode(params)}"


def link(public_url: str, event: Event) -> str:
    return group_link(public_url, event) if event.group_id else feed_link(public_url, event)


def account_text(event: Event) -> str:
    return event.account_name or event.account_id or "no account"


def system_title(event_type: str) -> str:
    """`sweep overdue`, `consumer not ready`…: what a system event is about, in words."""
    base = event_type.removesuffix(_RESOLVED)
    # `admin.allowlist.forced` (an audit-log entry) reads "allowlist forced"
    return _SYSTEM_TITLES.get(base, base.split(".", 1)[-1].replace("_", " ").replace(".", " "))


def label(event: Event) -> str:
    """The first words of every headline: `HIGH`, `CRITICAL (reopened)`, `FIXED`, `CHANGED`,
    `CRITICAL (escalated from high)`…"""
    if event.system is not None:
        resolved = event.type.endswith(_RESOLVED)
        return "RESOLVED" if resolved else event.system.severity.value.upper()
    if event.type in ("issue.opened", "issue.reopened", "issue.escalated") and event.issue:
        text = event.issue.severity.value.upper()
        previous = event.issue.previous_severity
        if event.type == "issue.escalated":
            return f"{text} (escalated from {previous})" if previous else f"{text} (escalated)"
        return f"{text} (reopened)" if event.type == "issue.reopened" else text
    return _LABELS.get(event.type, event.type.upper())


def headline(event: Event) -> str:
    """E.g. `HIGH: tcp/22 opened to 0.0.0.0/0 on web-sg (prod, us-east-1)`, or
    `HIGH: sweep overdue: account prod (111111111111)`."""
    if event.system is not None:
        return f"{label(event)}: {system_title(event.type)}: {event.system.subject}"
    if event.group_id is None:
        if event.change is not None and event.change.anchor_root:
            return f"{label(event)}: {event.change.anchor_heads} heads, root {event.change.anchor_root[:16]}…"
        return f"{label(event)}: {event.key}"
    where = f"({account_text(event)}, {event.region})"
    if event.issue is not None:
        return f"{label(event)}: {event.issue.message} on {event.name} {where}"
    if event.change is not None:
        scopes = ", ".join(event.change.scopes)
        first = f": {event.changes[0]}" if event.changes else ""
        return f"{label(event)} [{scopes}]: {event.name} {where}{first}"
    if event.type == "group.changed" and event.changes:
        more = f" and {len(event.changes) - 1} more" if len(event.changes) > 1 else ""
        return f"{label(event)}: {event.name} {where}: {event.changes[0]}{more}"
    return f"{label(event)}: {event.name} ({event.group_id}) {where}"


def subject(event: Event) -> str:
    return _one_line(f"[secmonkey] {headline(event)}")


def digest_subject(name: str, events: list[Event]) -> str:
    counts: dict[str, int] = {}
    for e in events:
        if e.severity is not None:
            counts[e.severity.value] = counts.get(e.severity.value, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: -Severity(kv[0]).rank)
    detail = ", ".join(f"{n} {sev}" for sev, n in ordered)
    plural = "event" if len(events) == 1 else "events"
    suffix = f" ({detail})" if detail else ""
    return _one_line(f"[secmonkey] {name}: {len(events)} {plural}{suffix}")


def _one_line(text: str, limit: int = 250) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Fact:
    title: str
    value: str


def _account_fact(event: Event) -> list[Fact]:
    if event.account_id is None:
        return []
    name = event.account_name
    return [Fact("Account", f"{name} ({event.account_id})" if name else event.account_id)]


def _groupless_facts(event: Event) -> list[Fact]:
    """A system event (or a type this build does not know): no group to show."""
    at = Fact("At", event.at.strftime(_TIME))
    if event.system is None:
        return [Fact("Event", event.type), Fact("Key", event.key), *_account_fact(event), at]
    system = event.system
    rows = [Fact("Subject", system.subject), *_account_fact(event), Fact("Event", event.type)]
    rows.append(Fact("Severity", system.severity.value))
    if system.since is not None:
        rows.append(Fact("Since", system.since.strftime(_TIME)))
    return [*rows, at, Fact("Detail", system.detail)]


def facts(event: Event) -> list[Fact]:
    """The where and what of an event, in the order every channel shows them."""
    if event.group_id is None or event.system is not None:
        return _groupless_facts(event)
    rows = [
        *_account_fact(event),
        Fact("Region", event.region or ""),
        Fact("VPC", event.vpc_id or "none (EC2-Classic or unknown)"),
        Fact("Group", f"{event.name} ({event.group_id})"),
        Fact("Event", event.type),
        Fact("At", event.at.strftime(_TIME)),
    ]
    if event.issue is not None:
        rows.append(Fact("Severity", event.issue.severity.value))
        rows.append(Fact("Rule", event.issue.rule_id))
        if event.issue.rule_text:
            rows.append(Fact("Offending rule", event.issue.rule_text))
        if event.issue.compliance:
            rows.append(Fact("Compliance", ", ".join(event.issue.compliance)))
    if event.callers:
        who = event.callers[0]
        rows.append(Fact("Changed by", f"{who.arn or 'unknown'} ({who.event_name})"))
    if event.change is not None:
        rows.extend(_change_facts(event))
    return rows


def _change_facts(event: Event) -> list[Fact]:
    """A change review's scopes, state, ticket, reviewer and deadline."""
    change = event.change
    assert change is not None
    rows = [Fact("Scopes", ", ".join(change.scopes)), Fact("Review", change.status or "")]
    if change.ticket:
        rows.append(Fact("Ticket", change.ticket))
    if change.reviewer:
        rows.append(Fact("Reviewer", change.reviewer + (" (automatic)" if change.auto else "")))
    if change.comment:
        rows.append(Fact("Comment", change.comment))
    if change.deadline is not None and change.status == "pending":
        rows.append(Fact("Review due", change.deadline.strftime(_TIME)))
    if event.changes:
        rows.append(Fact("Change", "; ".join(event.changes[:5])))
    return rows


@dataclass(frozen=True)
class Notice:
    """One event as every channel renders it."""

    event: Event
    headline: str
    subject: str
    link: str
    facts: list[Fact]

    @classmethod
    def of(cls, event: Event, public_url: str) -> Notice:
        return cls(
            event=event,
            headline=headline(event),
            subject=subject(event),
            link=link(public_url, event),
            facts=facts(event),
        )
