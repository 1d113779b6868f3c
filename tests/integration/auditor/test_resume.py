"""Stopping at any write and processing the message again gives the same result.

A fault is injected before the n-th write (the process "dies" there: nothing after it
runs), then the message is handled again by a fresh auditor, as a redelivery would be.
For every n the stored history, issues and events equal those of an undisturbed run.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.messages import SnapshotBatch, SweepCompleted
from secmonkey.common.search_index.format import lines_of
from secmonkey.common.storage import Database, Document, Store, WriteOp
from tests.integration.auditor.kit import PUBLIC, batch, completed, ingress, snap

pytestmark = pytest.mark.integration

SSH = ingress(22, "0.0.0.0/0")
RDP = ingress(3389, "0.0.0.0/0")
INTERNAL = ingress(443, "10.0.0.0/8")


def scenario(account: str) -> list[SnapshotBatch | SweepCompleted]:
    def s(gid: str, *rules: Any, **kw: Any) -> Any:
        return snap(gid, *rules, account=account, **kw)

    return [
        batch(0, s("sg-a", SSH), s("sg-b", INTERNAL), account=account),
        batch(60, s("sg-a", INTERNAL), s("sg-b", RDP), s("sg-c", SSH), account=account),
        completed(120, ["sg-a", "sg-c"], started=100, account=account),
        batch(180, s("sg-b", RDP), s("sg-c", SSH, attachments=PUBLIC), account=account),
        batch(240, s("sg-a", SSH), account=account),
    ]


class Fuse:
    def __init__(self, at: int | None) -> None:
        self.at = at
        self.calls = 0

    def tick(self) -> None:
        self.calls += 1
        if self.at is not None and self.calls == self.at:
            raise AutoReconnect("injected: the process stops here")


class FusedStore(Store):
    def __init__(self, db: Database, fuse: Fuse) -> None:
        super().__init__(db)
        self.fuse = fuse

    async def insert(self, collection: str, docs: Any) -> set[int]:
        if docs:
            self.fuse.tick()
        return await super().insert(collection, docs)

    async def write(self, collection: str, ops: Any) -> int:
        batch_ops: list[WriteOp] = list(ops)
        if batch_ops:
            self.fuse.tick()
        return await super().write(collection, batch_ops)


async def run(db: Database, account: str, fuse: Fuse) -> None:
    for message in scenario(account):
        auditor = Auditor(db, RulesConfig(), store=FusedStore(db, fuse))
        try:
            await auditor.handle(message)
        except AutoReconnect:
            await Auditor(db, RulesConfig()).handle(message)  # the redelivery


async def summary(db: Database, account: str) -> dict[str, list[Any]]:
    def mine(doc: Document) -> bool:
        return doc.get("account_id") == account

    revisions = [d for d in await db.revisions.find({}).to_list(None) if mine(d)]
    events = [d for d in await db.events.find({}).to_list(None) if mine(d)]
    issues = [d for d in await db.issues.find({}).to_list(None) if mine(d)]
    items = [d for d in await db.items.find({}).to_list(None) if mine(d)]
    # the search lookups: entries filed under each range (their documents are per place)
    filed = [
        (d["_id"].split("@")[0], line)
        for d in await db.rule_postings.find({}).to_list(None)
        if f":{account}:" in d["_id"]
        for line in lines_of(d)
    ]
    group_ids = [
        (d["_id"], sorted(v["state"] for k, v in d["g"].items() if f":{account}:" in k))
        for d in await db.group_ids.find({}).to_list(None)
    ]
    return {
        "revisions": sorted(
            (d["group_id"], d["seq"], d["change_type"], d["changes"], d["diff"]) for d in revisions
        ),
        "events": sorted(
            (
                d["type"],
                d["group_id"],
                d["seq"] or 0,
                (d["issue"] or {}).get("rule_id", ""),
                (d["issue"] or {}).get("status", ""),
                (d["issue"] or {}).get("previous_severity") or "",
                tuple(d["changes"]),
            )
            for d in events
        ),
        "issues": sorted(
            (d["group_id"], d["rule_id"], d["rule_text"], d["status"], d["severity"], d["reopened"])
            for d in issues
        ),
        "postings": sorted(filed),
        "group_ids": sorted(g for g in group_ids if g[1]),
        "items": sorted(
            (
                d["group_id"],
                d["seq"],
                d["state"],
                d["open_issues"],
                d["max_severity"],
                d["last_seen"],
                d["deleted_at"],
            )
            for d in items
        ),
    }


async def test_stopping_at_any_write_then_redelivering_gives_the_same_result(db: Database) -> None:
    reference = Fuse(None)
    await run(db, "100000000000", reference)
    expected = await summary(db, "100000000000")
    assert len(expected["events"]) == 15 and len(expected["revisions"]) == 8
    # sg-c seen with a public IP: its open SSH issue rises from high to critical
    assert ("issue.escalated", "sg-c", 1, "internet-admin-port", "open", "high", ()) in expected[
        "events"
    ]
    for n in range(1, reference.calls + 1):
        account = str(100000000000 + n)
        await run(db, account, Fuse(n))
        assert await summary(db, account) == expected, f"stopped before write {n}"
