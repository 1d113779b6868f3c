"""Justification expiry: a justified issue whose `until` has passed is open again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from secmonkey.auditor.events import make_event
from secmonkey.auditor.issues import expiry_marker, reconcile
from secmonkey.auditor.outbox import Outbox
from secmonkey.auditor.rule_context import ContextSource
from secmonkey.auditor.rules.engine import Finding
from secmonkey.common import issue_counters
from secmonkey.common.dates import aware, to_millis
from secmonkey.common.issue_counters import place_of
from secmonkey.common.messages import Event, utcnow
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Document, Store, Update, WriteOp


def finding_of(doc: Document) -> Finding:
    """The finding a stored issue records."""
    return Finding(
        issue_id=doc["_id"],
        rule_id=doc["rule_id"],
        severity=Severity(doc["severity"]),
        message=doc["message"],
        rule_text=doc.get("rule_text", ""),
        compliance=tuple(doc.get("compliance") or ()),
    )


async def expired_issues(
    store: Store, now: datetime, keep: Callable[[str], bool] | None = None
) -> dict[tuple[str, str], list[str]]:
    """The ids of the justified issues whose justification has expired, by account-region
    (with `keep`, of the item keys it accepts only: a partitioned auditor expires those of
    the partitions it holds). A scan of the justified issues (every issue on FerretDB), made
    outside any turn; `expire_justifications` reads each again before it acts."""
    query = {"status": "justified", "justification.until": {"$lte": to_millis(now)}}
    found: dict[tuple[str, str], list[str]] = {}
    async for doc in store.db.issues.find(query, {"key": 1}):
        if keep is None or keep(doc["key"]):
            found.setdefault(place_of(doc["key"]), []).append(doc["_id"])
    return found


async def expire_justifications(
    store: Store,
    contexts: ContextSource,
    outbox: Outbox,
    issue_ids: list[str],
    now: datetime | None = None,
) -> list[Event]:
    """Re-open those of these issues (of one account-region, in its turn) that are still
    justified and whose justification has expired; the events (stored, not yet
    published)."""
    now = to_millis(now or utcnow())
    found = await store.read("issues", issue_ids)
    expired = [
        doc
        for doc in found.values()
        if doc.get("status") == "justified"
        and (doc.get("justification") or {}).get("until") is not None
        and aware(doc["justification"]["until"]) <= now
    ]
    if not expired:
        return []
    directory = await contexts.directory()
    by_key: dict[str, list[Document]] = {}
    for doc in expired:
        by_key.setdefault(doc["key"], []).append(doc)
    items = await store.read("items", list(by_key))
    writes: list[WriteOp] = []
    item_writes: list[WriteOp] = []
    events: list[Event] = []
    for key, docs in by_key.items():
        item = items.get(key)
        if item is None:
            continue
        others = await store.read("issues", item.get("issue_ids") or [])
        for doc in docs:
            until = aware(doc["justification"]["until"])
            outcome = reconcile(
                {**item, "account_name": directory.account_name(item["account_id"])},
                expiry_marker(doc["_id"], until),
                until,
                [finding_of(doc)],
                {doc["_id"]: doc},
            )
            writes.extend(outcome.writes)
            others[doc["_id"]] = {**doc, "status": "open"}
            events.extend(
                make_event(
                    t.type, t.event_id, item=item, at=until, seq=item.get("seq"), issue=t.issue
                )
                for t in outcome.transitions
            )
        counts = issue_counters.counters((d["status"], d["severity"]) for d in others.values())
        item_writes.append(Update(key, {"$set": counts}))
    await store.write("issues", writes)
    await outbox.store(events)
    await store.write("items", item_writes)
    return events
