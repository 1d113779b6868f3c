"""History, deletion, order and idempotency against the real MongoDB-protocol server."""

from __future__ import annotations

import asyncio
import json

import jsondiff
import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.documents import Issue, Item, Revision, issue_id
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import Event
from secmonkey.common.storage import Database, capabilities_of
from tests.integration.auditor.kit import (
    at,
    batch,
    completed,
    ingress,
    key,
    revisions,
    snap,
    snapshot,
)

pytestmark = pytest.mark.integration

INTERNAL = ingress(443, "10.0.0.0/8")
SSH_WORLD = ingress(22, "0.0.0.0/0")


@pytest.fixture(params=[False, True], ids=["detected", "mongodb-paths"])
def auditor(db: Database, request: pytest.FixtureRequest) -> Auditor:
    """As detected (FerretDB here), and with MongoDB's paths forced on wherever FerretDB's
    semantics allow: guarded writes, `$in` batch reads, unchunked bulk writes."""
    detected = capabilities_of(db.client)
    mongodb = detected.with_(conditional_writes=True, indexed_filters=True, large_bulk_writes=True)
    forced = mongodb if request.param else detected
    return Auditor(db, RulesConfig(), capabilities=forced)


def types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


async def test_create_change_unchanged_delete_restore(db: Database, auditor: Auditor) -> None:
    k = key("sg-a")
    v1 = snap("sg-a", INTERNAL, tags={"Owner": "a"})
    v2 = snap("sg-a", INTERNAL, SSH_WORLD, tags={"Owner": "b"})
    other = snap("sg-b", INTERNAL)

    created = await auditor.handle(batch(0, v1, other))
    assert types(created) == ["group.created", "group.created"]
    assert created[0].changes == ["+ ingress tcp/443 from 10.0.0.0/8"]
    item = Item.model_validate(await db.items.find_one({"_id": k}))
    assert (item.seq, item.state, item.name_lower, item.open_issues) == (
        1,
        "active",
        "group-sg-a",
        0,
    )
    assert item.max_severity is None and item.max_severity_rank == -1
    assert [r.model_dump() for r in item.ranges] == [
        {
            "v": 4,
            "lo": f"{0x0A000000:032x}",
            "hi": f"{0x0AFFFFFF:032x}",
            "rule": 0,
            "direction": "ingress",
        }
    ]

    changed = await auditor.handle(batch(60, v2, other))
    assert types(changed) == ["group.changed", "issue.opened"]
    assert changed[0].changes == ["+ ingress tcp/22 from 0.0.0.0/0", "tag Owner: a → b"]
    assert changed[1].issue is not None and changed[1].issue.rule_id == "internet-admin-port"
    assert changed[1].issue.severity == "high" and changed[1].seq == 2
    item = Item.model_validate(await db.items.find_one({"_id": k}))
    assert (item.seq, item.open_issues, item.max_severity, item.max_severity_rank) == (
        2,
        1,
        "high",
        3,
    )
    assert item.last_changed == at(60) and item.first_seen == at(0)
    assert len(item.ranges) == 2

    assert await auditor.handle(batch(120, v2, other)) == []
    item = Item.model_validate(await db.items.find_one({"_id": k}))
    assert (item.seq, item.last_seen, item.last_changed) == (2, at(120), at(60))

    deleted = await auditor.handle(completed(180, ["sg-b"], started=150))
    assert types(deleted) == ["group.deleted"] and deleted[0].key == k
    item = Item.model_validate(await db.items.find_one({"_id": k}))
    assert (item.state, item.deleted_at, item.seq, item.open_issues) == ("deleted", at(180), 3, 0)
    assert (await db.items.find_one({"_id": key("sg-b")}))["state"] == "active"

    restored = await auditor.handle(batch(240, v2))
    assert types(restored) == ["group.restored", "issue.reopened"]
    item = Item.model_validate(await db.items.find_one({"_id": k}))
    assert (item.state, item.deleted_at, item.seq, item.open_issues) == ("active", None, 4, 1)

    revs = [Revision.model_validate(r) for r in await revisions(db, k)]
    assert [(r.seq, r.change_type, r.observed_at) for r in revs] == [
        (1, "created", at(0)),
        (2, "changed", at(60)),
        (3, "deleted", at(180)),
        (4, "restored", at(240)),
    ]
    assert revs[0].diff is None and revs[2].diff is None
    expected = jsondiff.diff(
        v1.config.model_dump(mode="json"),
        v2.config.model_dump(mode="json"),
        syntax="explicit",
        marshal=True,
    )
    assert json.loads(revs[1].diff or "") == json.loads(json.dumps(expected))
    assert json.loads(revs[3].diff or "") == {}
    assert revs[1].fingerprint == v2.fingerprint and revs[1].config == v2.config
    assert revs[2].changes == ["deleted: absent from complete sweep sweep-1"]

    issue = Issue.model_validate(
        await db.issues.find_one({"_id": issue_id(k, "internet-admin-port", SSH_WORLD.text())})
    )
    assert (issue.status, issue.reopened, issue.opened_at) == ("open", 1, at(60))
    assert "SSH (22)" in issue.message and any("CIS" in c for c in issue.compliance)

    stored = await db.events.find({"key": k}).sort("at", 1).to_list(None)
    events = [Event.model_validate({f: v for f, v in d.items() if f != "_id"}) for d in stored]
    assert types(events) == [
        "group.created",
        "group.changed",
        "issue.opened",
        "group.deleted",
        "group.restored",
        "issue.reopened",
    ]
    assert all(d["_id"] == d["event_id"] for d in stored)


async def test_same_batch_twice_changes_nothing(db: Database, auditor: Auditor) -> None:
    first = batch(0, snap("sg-a", SSH_WORLD), snap("sg-b", INTERNAL))
    assert len(await auditor.handle(first)) == 3
    before = await snapshot(db)
    assert await auditor.handle(first) == []
    assert await auditor.handle(completed(0, ["sg-a", "sg-b"])) == []
    assert await snapshot(db) == before


async def test_older_observation_never_rewrites_history(db: Database, auditor: Auditor) -> None:
    await auditor.handle(batch(0, snap("sg-a", INTERNAL)))
    await auditor.handle(batch(100, snap("sg-a", SSH_WORLD)))
    before = await snapshot(db)
    assert await auditor.handle(batch(50, snap("sg-a", ingress(80, "0.0.0.0/0")))) == []
    assert await auditor.handle(batch(100, snap("sg-a", INTERNAL))) == []  # same instant
    assert await snapshot(db) == before
    await auditor.handle(completed(200, []))
    assert (
        await auditor.handle(batch(150, snap("sg-a", SSH_WORLD))) == []
    )  # older than the deletion
    assert (await db.items.find_one({"_id": key("sg-a")}))["state"] == "deleted"


async def test_incomplete_sweep_deletes_nothing(db: Database, auditor: Auditor) -> None:
    await auditor.handle(batch(0, snap("sg-a", INTERNAL), snap("sg-b", INTERNAL)))
    assert await auditor.handle(completed(60, ["sg-a"], complete=False)) == []
    assert await db.revisions.count_documents({"change_type": "deleted"}) == 0


async def test_group_seen_after_the_sweep_started_is_not_deleted(
    db: Database, auditor: Auditor
) -> None:
    await auditor.handle(batch(0, snap("sg-a", INTERNAL), snap("sg-b", INTERNAL)))
    await auditor.handle(batch(90, snap("sg-b", INTERNAL), sweep="event"))  # an event-driven look
    deleted = await auditor.handle(completed(120, [], started=60))
    assert [e.key for e in deleted] == [key("sg-a")]


async def test_fixed_finding_that_returns_reopens(db: Database, auditor: Auditor) -> None:
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    fixed = await auditor.handle(batch(60, snap("sg-a", INTERNAL)))
    assert types(fixed) == ["group.changed", "issue.fixed"]
    assert (await db.items.find_one({"_id": key("sg-a")}))["open_issues"] == 0
    back = await auditor.handle(batch(120, snap("sg-a", SSH_WORLD)))
    assert types(back) == ["group.changed", "issue.reopened"]
    doc = await db.issues.find_one({"_id": back[1].issue.issue_id})  # type: ignore[union-attr]
    assert (doc["status"], doc["reopened"], doc["fixed_at"]) == ("open", 1, None)


async def test_a_config_not_matching_its_fingerprint_is_refused(
    db: Database, auditor: Auditor
) -> None:
    good = snap("sg-a", INTERNAL)
    forged = good.model_copy(update={"fingerprint": "0" * 64})
    with pytest.raises(InvalidInput, match="fingerprint"):
        await auditor.handle(batch(0, forged))
    assert await db.items.count_documents({}) == 0
    assert await db.revisions.count_documents({}) == 0


async def test_two_auditors_racing_on_one_group_never_append_the_same_revision(
    db: Database,
) -> None:
    k = key("sg-a")
    await Auditor(db, RulesConfig()).handle(batch(0, snap("sg-a", INTERNAL)))
    x = batch(60, snap("sg-a", SSH_WORLD))
    y = batch(120, snap("sg-a", ingress(3389, "0.0.0.0/0")))
    await asyncio.gather(Auditor(db, RulesConfig()).handle(x), Auditor(db, RulesConfig()).handle(y))
    revs = await revisions(db, k)
    seqs = [r["seq"] for r in revs]
    assert seqs == list(range(1, len(revs) + 1))
    assert [r["observed_at"] for r in revs] == sorted(r["observed_at"] for r in revs)
    assert revs[-1]["observed_at"] == at(120)  # the newest observation is the current version
    item = await db.items.find_one({"_id": k})
    assert (item["seq"], item["fingerprint"]) == (revs[-1]["seq"], revs[-1]["fingerprint"])
    changed = await db.events.count_documents({"key": k, "type": "group.changed"})
    assert changed == len(revs) - 1
