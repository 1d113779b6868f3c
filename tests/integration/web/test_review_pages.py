"""The console's review queue over HTTP: a compliance officer defines the scope, sees the
pending changes with who made them and the side-by-side diff, and approves several with
one ticket (the app in-process, the real database)."""

from __future__ import annotations

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.messages import Caller, SnapshotBatch
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import ACCOUNT, REGION, at, batch, ingress, key, snap
from tests.integration.web.inprocess import browser_like, hidden, running, sign_in

pytestmark = pytest.mark.integration

PCI = {"compliance": "pci"}
BOB = "arn:aws:sts::111111111111:assumed-role/Admin/bob"


async def test_review_queue_shows_the_caller_and_diff_and_bulk_approves_with_one_ticket(
    mongo_url: str, amqp_url: str, db_name: str, db: Database, keys_of: object
) -> None:
    keys = await keys_of()  # type: ignore[operator]
    auditor = Auditor(db, RulesConfig())
    async with running(mongo_url, amqp_url, db_name) as app:
        async with browser_like(app) as admin:
            await sign_in(admin, keys["admin"])
            page = await admin.get("/console/admin/scopes")
            saved = await admin.post(
                "/console/admin/scopes",
                data={"name": "pci", "tags": "compliance=pci", "review_hours": "8",
                      "csrf": hidden(page.text, "csrf")},
            )  # fmt: skip
            assert saved.status_code == 200 and "Saved scope pci." in saved.text

        await auditor.handle(batch(0, snap("sg-a", ingress(443, "10.0.0.0/8"), tags=PCI)))
        await auditor.handle(batch(0, snap("sg-b", ingress(443, "10.0.0.0/8"), tags=PCI)))
        call = Caller(event_id="c1", event_name="AuthorizeSecurityGroupIngress", arn=BOB, at=at(55))
        changed = snap("sg-a", ingress(443, "10.0.0.0/8"), ingress(22, "0.0.0.0/0"), tags=PCI)
        await auditor.handle(
            SnapshotBatch(sweep_id="e1", account_id=ACCOUNT, region=REGION, observed_at=at(60),
                          groups=[changed], source="event", callers=[call])
        )  # fmt: skip

        async with browser_like(app) as officer:
            await sign_in(officer, keys["auditor"])
            queue = await officer.get("/console/reviews")
            assert queue.status_code == 200
            assert queue.text.count('name="ids"') == 3 and BOB in queue.text
            detail = await officer.get(f"/console/reviews/{key('sg-a')}:2")
            assert detail.status_code == 200
            assert "Before (revision 1)" in detail.text and "After (revision 2)" in detail.text
            assert 'class="row-added"' in detail.text and "tcp/22" in detail.text
            assert BOB in detail.text
            approved = await officer.post(
                "/console/reviews/approve",
                data={"ids": [f"{key('sg-a')}:1", f"{key('sg-b')}:1"], "ticket": "CHG-555",
                      "csrf": hidden(queue.text, "csrf")},
            )  # fmt: skip
            assert approved.status_code == 200
            assert f"{key('sg-a')}:1: approved" in approved.text
            assert approved.text.count('name="ids"') == 1  # one left pending

    tickets = {d["_id"]: d.get("ticket") async for d in db.change_reviews.find({})}
    assert tickets == {
        f"{key('sg-a')}:1": "CHG-555",
        f"{key('sg-b')}:1": "CHG-555",
        f"{key('sg-a')}:2": None,
    }


async def test_the_evidence_button_downloads_the_package_for_auditors_only_and_logs_it(
    mongo_url: str, amqp_url: str, db_name: str, db: Database, keys_of: object
) -> None:
    keys = await keys_of()  # type: ignore[operator]
    await db.scopes.insert_one({"_id": "pci", "tags": [{"key": "compliance", "value": "pci"}]})
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-ev", ingress(443, "10.0.0.0/8"), tags=PCI)))
    async with running(mongo_url, amqp_url, db_name) as app:
        async with browser_like(app) as officer:
            await sign_in(officer, keys["auditor"])
            queue = await officer.get("/console/reviews")
            assert 'action="/console/evidence"' in queue.text
            # A date picked as `to` covers that whole day.
            got = await officer.get(
                "/console/evidence", params={"scope": "pci", "from": "", "to": "2026-03-01"}
            )
            assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
            assert b"changes.csv" in got.content and b"manifest.json" in got.content
        async with browser_like(app) as reader:
            await sign_in(reader, keys["viewer"])
            assert "Download evidence" not in (await reader.get("/console/reviews")).text
            assert (await reader.get("/console/evidence?scope=pci")).status_code == 403
    [entry] = await db.audit_log.find({"action": "evidence.downloaded"}).to_list(None)
    assert entry["via"] == "console" and entry["actor"]["name"] == "auditor person"
    assert entry["after"]["to"].startswith("2026-03-01T23:59:59.999")
    assert entry["after"]["counts"]["changes"] == 1
