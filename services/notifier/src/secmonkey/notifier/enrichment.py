"""What an email adds to the event: the rules before and after, the issues opened and fixed.

Read from the auditor's `revisions` (`_id` `<key>:<seq>`) and `issues` collections: two
indexed finds per email. Anything missing or unreadable leaves the section empty; the
event's own change list is always shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from secmonkey.common import history_reads
from secmonkey.common.canonical import CanonicalGroup
from secmonkey.common.messages import Event
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)

# Issues opened or fixed by the same observation carry (about) the event's time.
_SAME_OBSERVATION = timedelta(seconds=1)


@dataclass(frozen=True)
class IssueLine:
    severity: str
    rule_id: str
    message: str


@dataclass
class Enrichment:
    """Before/after rule lists and issue changes for one event."""

    before: list[str] | None = None
    after: list[str] | None = None
    other_changes: list[tuple[str, str, str]] = field(default_factory=list)
    opened: list[IssueLine] = field(default_factory=list)
    fixed: list[IssueLine] = field(default_factory=list)

    @property
    def added(self) -> list[str]:
        if self.after is None:
            return []
        before = set(self.before or [])
        return [r for r in self.after if r not in before]

    @property
    def removed(self) -> list[str]:
        if self.before is None:
            return []
        after = set(self.after or [])
        return [r for r in self.before if r not in after]


def _rules(config: CanonicalGroup) -> list[str]:
    return [
        rule.text() + (f" ({rule.description})" if rule.description else "")
        for rule in config.rules
    ]


def _config(doc: dict[str, Any] | None) -> CanonicalGroup | None:
    if not doc or "config" not in doc:
        return None
    try:
        return CanonicalGroup.model_validate(doc["config"])
    except ValidationError:
        return None


def _attribute_changes(
    before: CanonicalGroup | None, after: CanonicalGroup | None
) -> list[tuple[str, str, str]]:
    if before is None or after is None:
        return []
    rows = []
    for name in ("name", "description", "vpc_id"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            rows.append((name, str(old or ""), str(new or "")))
    for key in sorted(set(before.tags) | set(after.tags)):
        if before.tags.get(key) != after.tags.get(key):
            rows.append((f"tag {key}", before.tags.get(key, ""), after.tags.get(key, "")))
    return rows


async def enrich(db: Database, event: Event) -> Enrichment:
    enrichment = Enrichment()
    if event.seq:
        ids = [f"{event.key}:{event.seq}"] + (
            [f"{event.key}:{event.seq - 1}"] if event.seq > 1 else []
        )
        docs = await history_reads.revisions_by_id(db, ids)
        after = _config(docs.get(ids[0]))
        before = _config(docs.get(ids[1])) if len(ids) > 1 else None
        if event.type != "group.deleted" and after is not None:
            enrichment.after = _rules(after)
        if before is not None:
            enrichment.before = _rules(before)
        elif event.type == "group.created":
            enrichment.before = []
        if event.type == "group.deleted" and after is not None:
            enrichment.before, enrichment.after = _rules(after), []
        enrichment.other_changes = _attribute_changes(before, after)
    seen: set[tuple[str, str]] = set()
    if event.issue is not None:
        line = IssueLine(event.issue.severity.value, event.issue.rule_id, event.issue.message)
        (enrichment.fixed if event.type == "issue.fixed" else enrichment.opened).append(line)
        seen.add((line.rule_id, line.message))
    since = event.at - _SAME_OBSERVATION
    for doc in await history_reads.issues_changed_since(db, event.key, since, 100):
        line = IssueLine(
            str(doc.get("severity", "")), str(doc.get("rule_id", "")), str(doc.get("message", ""))
        )
        if (line.rule_id, line.message) in seen:
            continue
        seen.add((line.rule_id, line.message))
        fixed_at = doc.get("fixed_at")
        if doc.get("status") == "fixed" and fixed_at is not None and fixed_at >= since:
            enrichment.fixed.append(line)
        else:
            enrichment.opened.append(line)
    return enrichment
