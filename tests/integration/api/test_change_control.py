"""Change control end to end on the real database: an in-scope change is pending until a
person or a ticketing system reviews it; a listed deploy role's change with a ticket is
approved by itself; a rejection opens an issue; an unreviewed change becomes overdue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.chain_verify import verify_database
from secmonkey.common.messages import Caller, SnapshotBatch
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.integration.auditor.kit import ACCOUNT, REGION, at, batch, ingress, key, snap

pytestmark = pytest.mark.integration

PCI_TAGS = {"compliance": "pci"}
DEPLOY = "arn:aws:sts::111111111111:assumed-role/terraform-deploy/CHG-77-apply"
ALICE = "arn:aws:sts::111111111111:assumed-role/Admin/alice"
SCOPE = {
    "description": "cardholder data environment",
    "tags": PCI_TAGS,
    "review_hours": 24,
    "auto_approvals": [{"principal": "arn:aws:sts::111111111111:assumed-role/terraform-deploy/*"}],
}


def called_by(arn: str, seconds: float, group_id: str) -> Caller:
    return Caller(
        event_id=f"ct-{group_id}-{seconds}",
        event_name="AuthorizeSecurityGroupIngress",
        arn=arn,
        at=at(seconds - 5),
        group_ids=[group_id],
    )


def event_batch(seconds: float, *groups: Any, callers: list[Caller]) -> SnapshotBatch:
    return SnapshotBatch(
        sweep_id=f"event-{seconds}",
        account_id=ACCOUNT,
        region=REGION,
        observed_at=at(seconds),
        groups=list(groups),
        source="event",
        callers=callers,
    )


async def key_of(admin: httpx.AsyncClient, name: str, role: str) -> httpx.AsyncClient:
    made = await admin.post("/api/v1/keys", json={"name": name, "role": role})
    made.raise_for_status()
    return httpx.AsyncClient(
        transport=admin._transport,
        base_url="http://api",
        headers={"Authorization": f"Bearer {made.json()['key']}"},
    )


async def events_of(db: Database, type_: str) -> list[dict[str, Any]]:
    return await db.events.find({"type": type_}).to_list(None)


async def test_a_change_in_scope_is_pending_then_approved_with_a_ticket_by_the_ticketing_key(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        put = await admin.put("/api/v1/scopes/pci", json=SCOPE)
        assert put.status_code == 200, put.text
        assert (await admin.get("/api/v1/scopes")).json()[0]["name"] == "pci"

        # One group in scope, one outside: only the first gets a review.
        web = snap("sg-web", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS)
        other = snap("sg-other", ingress(443, "10.0.0.0/8"))
        created = await auditor.handle(batch(0, web, other))
        assert "change.pending" in [e.type for e in created]
        changed = snap(
            "sg-web", ingress(443, "10.0.0.0/8"), ingress(22, "0.0.0.0/0"), tags=PCI_TAGS
        )
        await auditor.handle(event_batch(60, changed, callers=[called_by(ALICE, 60, "sg-web")]))

        queue = (await admin.get("/api/v1/change-reviews", params={"scope": "pci"})).json()
        ids = [r["id"] for r in queue["items"]]
        review_id = f"{key('sg-web')}:2"
        assert ids == [review_id, f"{key('sg-web')}:1"]
        detail = (await admin.get(f"/api/v1/change-reviews/{review_id}")).json()
        assert detail["status"] == "pending" and detail["changed_by"] == ALICE
        assert detail["changes"] == ["+ ingress tcp/22 from 0.0.0.0/0"]
        assert len(detail["after"]["rules"]) == 2 and len(detail["before"]["rules"]) == 1
        assert detail["deadline"].startswith("2026-03-02T12:01:00")

        ticketing = await key_of(admin, "servicenow", "reviewer")
        alice = await key_of(admin, "alice", "auditor")
        async with ticketing, alice:
            # The ticketing system's key reviews and does nothing else.
            assert (await ticketing.get("/api/v1/groups")).status_code == 403
            assert (await ticketing.get("/api/v1/change-reviews")).status_code == 403
            # An approval needs a ticket; the one who made the change may not review it.
            path = f"/api/v1/change-reviews/{review_id}/review"
            no_ticket = await ticketing.post(path, json={"decision": "approve"})
            assert no_ticket.status_code == 422
            own = await alice.post(path, json={"decision": "approve", "ticket": "CHG-1234"})
            assert own.status_code == 403 and "alice" in own.json()["detail"]
            approved = await ticketing.post(
                path, json={"decision": "approve", "ticket": "CHG-1234", "comment": "window 12"}
            )
            assert approved.status_code == 200, approved.text
            body = approved.json()
            assert (body["status"], body["ticket"], body["reviewer"]) == (
                "approved",
                "CHG-1234",
                "servicenow",
            )
            again = await ticketing.post(path, json={"decision": "reject"})
            assert again.status_code == 409

    [event] = await events_of(db, "change.approved")
    assert event["change"]["ticket"] == "CHG-1234" and event["callers"][0]["arn"] == ALICE
    record = await db.review_chain.find_one({"review_id": review_id})
    assert record is not None and record["n"] == 1 and record["ticket"] == "CHG-1234"
    assert await db.change_reviews.count_documents({"key": key("sg-other")}) == 0
    assert (await verify_database(db)).ok


async def test_rejecting_a_change_opens_a_high_unauthorized_change_issue(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
        await auditor.handle(batch(0, snap("sg-db", ingress(5432, "10.0.0.0/8"), tags=PCI_TAGS)))
        review_id = f"{key('sg-db')}:1"
        rejected = await admin.post(
            f"/api/v1/change-reviews/{review_id}/review",
            json={"decision": "reject", "comment": "no ticket for this"},
        )
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        issues = await admin.get("/api/v1/issues", params={"rule_id": "unauthorized-change"})
        [issue] = issues.json()["items"]
        assert issue["severity"] == "high" and issue["status"] == "open"
        assert issue["compliance"] == ["pci"]
    [alert] = await events_of(db, "change.rejected")
    assert alert["change"]["comment"] == "no ticket for this"
    opened = await db.events.find_one(
        {"type": "issue.opened", "issue.rule_id": "unauthorized-change"}
    )
    assert opened is not None and opened["issue"]["severity"] == "high"


async def test_bulk_approve_takes_one_ticket_for_many_changes(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
        groups = [snap(f"sg-b{i}", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS) for i in range(3)]
        await auditor.handle(batch(0, *groups))
        ids = [f"{key(f'sg-b{i}')}:1" for i in range(3)]
        answer = await admin.post(
            "/api/v1/change-reviews/review",
            json={"ids": [*ids, f"{key('sg-none')}:1"], "decision": "approve", "ticket": "CHG-9"},
        )
        assert answer.status_code == 200, answer.text
        results = {r["id"]: r for r in answer.json()}
        assert all(results[i]["ok"] and results[i]["status"] == "approved" for i in ids)
        assert results[f"{key('sg-none')}:1"]["ok"] is False
    tickets = {d["ticket"] async for d in db.change_reviews.find({})}
    assert tickets == {"CHG-9"}
    assert await db.review_chain.count_documents({}) == 3


async def test_the_deploy_role_with_a_ticket_tag_is_auto_approved_and_a_removed_tag_is_reviewed(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
    v1 = snap("sg-app", ingress(443, "10.0.0.0/8"), tags={**PCI_TAGS, "change-ticket": "CHG-4242"})
    await auditor.handle(event_batch(0, v1, callers=[called_by(DEPLOY, 0, "sg-app")]))
    review = await db.change_reviews.find_one({"_id": f"{key('sg-app')}:1"})
    assert review is not None
    assert (review["status"], review["ticket"], review["auto"]) == ("approved", "CHG-4242", True)
    assert review["reviewer"] == "auto-approval: pci"
    assert await events_of(db, "change.pending") == []
    assert len(await events_of(db, "change.approved")) == 1

    # Taking the group out of the scope is itself a change to review.
    v2 = snap("sg-app", ingress(443, "10.0.0.0/8"), tags={"change-ticket": "CHG-4242"})
    await auditor.handle(batch(60, v2))
    left = await db.change_reviews.find_one({"_id": f"{key('sg-app')}:2"})
    assert left is not None and left["left_scopes"] == ["pci"] and left["status"] == "pending"


async def test_an_unreviewed_change_past_its_deadline_raises_change_overdue_once(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        await admin.put("/api/v1/scopes/pci", json={**SCOPE, "review_hours": 4})
    await auditor.handle(batch(0, snap("sg-late", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS)))
    assert await auditor.raise_overdue_reviews(now=at(0) + timedelta(hours=3)) == []
    [overdue] = await auditor.raise_overdue_reviews(now=at(0) + timedelta(hours=5))
    assert overdue.type == "change.overdue" and overdue.change is not None
    assert overdue.change.review_id == f"{key('sg-late')}:1"
    assert await auditor.raise_overdue_reviews(now=at(0) + timedelta(hours=6)) == []
    assert len(await events_of(db, "change.overdue")) == 1


async def test_a_caller_arriving_after_the_sweep_is_attached_to_that_revision(
    db: Database, fresh_app: FastAPI
) -> None:
    auditor = Auditor(db, RulesConfig())
    async with harness.client_for(fresh_app) as admin:
        await admin.put("/api/v1/scopes/pci", json=SCOPE)
    v1 = snap("sg-swept", ingress(443, "10.0.0.0/8"), tags=PCI_TAGS)
    v2 = snap("sg-swept", ingress(443, "10.0.0.0/8"), ingress(80, "10.0.0.0/8"), tags=PCI_TAGS)
    await auditor.handle(batch(0, v1))
    await auditor.handle(batch(120, v2))  # the sweep saw the change first
    late = called_by(ALICE, 100, "sg-swept")  # the call happened at 95 s
    await auditor.handle(event_batch(130, v2, callers=[late]))
    revision = await db.revisions.find_one({"_id": f"{key('sg-swept')}:2"})
    assert revision is not None and [c["arn"] for c in revision["attached_callers"]] == [ALICE]
    review = await db.change_reviews.find_one({"_id": f"{key('sg-swept')}:2"})
    assert review is not None and review["changed_by"] == ALICE
    first = await db.change_reviews.find_one({"_id": f"{key('sg-swept')}:1"})
    assert first is not None and first["changed_by"] is None
    # Attaching the caller does not break the chain (it is outside the hash).
    assert (await verify_database(db)).ok


async def test_scope_tags_with_dots_are_stored_and_bad_scopes_refused(
    fresh_app: FastAPI,
) -> None:
    async with harness.client_for(fresh_app) as admin:
        tags = {"kubernetes.io/cluster/cde": "owned", "$where": "x"}
        put = await admin.put("/api/v1/scopes/cde", json={"tags": tags})
        assert put.status_code == 200, put.text
        assert (await admin.get("/api/v1/scopes/cde")).json()["tags"] == tags
        bad = await admin.put("/api/v1/scopes/Bad Name", json={})
        assert bad.status_code == 422
        regex = await admin.put(
            "/api/v1/scopes/x", json={"auto_approvals": [{"principal": "*", "ticket_pattern": "("}]}
        )
        assert regex.status_code == 422 and "regular expression" in regex.text
        assert (await admin.delete("/api/v1/scopes/cde")).status_code == 204
        assert (await admin.get("/api/v1/scopes/cde")).status_code == 404
