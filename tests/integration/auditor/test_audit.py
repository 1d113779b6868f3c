"""Audit context against the real server: exposure, allowlist and accounts written by the
api, rules-file changes, and justifications."""

from __future__ import annotations

from datetime import timedelta

import pytest

from secmonkey.auditor.expiry import expire_justifications, expired_issues
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig, parse_rules
from secmonkey.common.documents import Account, AllowlistEntry, Justification, issue_id
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import (
    ACCOUNT,
    PUBLIC,
    REGION,
    UNATTACHED,
    at,
    batch,
    completed,
    ingress,
    key,
    snap,
)

pytestmark = pytest.mark.integration

SSH_WORLD = ingress(22, "0.0.0.0/0")
PARTNER = ingress(443, "8.8.8.0/24")


def types(events: list) -> list[str]:
    return [e.type for e in events]


async def test_exposure_change_re_audits_without_a_revision(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    iid = issue_id(k, "internet-admin-port", SSH_WORLD.text())
    assert (await db.issues.find_one({"_id": iid}))["severity"] == "high"

    exposed = await auditor.handle(batch(60, snap("sg-a", SSH_WORLD, attachments=PUBLIC)))
    assert [
        (e.type, e.issue.issue_id, e.issue.severity, e.issue.previous_severity)
        for e in exposed
        if e.issue
    ] == [("issue.escalated", iid, "critical", "high")]
    issue = await db.issues.find_one({"_id": iid})
    item = await db.items.find_one({"_id": k})
    assert (issue["severity"], issue["status"]) == ("critical", "open")
    assert (item["seq"], item["max_severity"], item["attachments"]["public_ip"]) == (
        1,
        "critical",
        True,
    )

    # a drop in severity is recorded silently
    unattached = await auditor.handle(batch(120, snap("sg-a", SSH_WORLD, attachments=UNATTACHED)))
    assert types(unattached) == ["issue.opened"]  # unused-group
    assert unattached[0].issue is not None and unattached[0].issue.rule_id == "unused-group"
    assert (await db.issues.find_one({"_id": iid}))["severity"] == "medium"
    assert await db.revisions.count_documents({"key": k}) == 1


async def test_allowlist_and_accounts_written_by_the_api_are_honoured(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    foreign = ingress((0, 65535), "sg-999", source_account="999999999999")
    opened = await auditor.handle(batch(0, snap("sg-a", PARTNER, foreign)))
    assert sorted(e.issue.rule_id for e in opened if e.issue) == [
        "large-port-range",
        "public-source",
        "unknown-account",
    ]

    await db.allowlist.insert_one(AllowlistEntry(name="partner", cidr="8.8.0.0/16").to_mongo())
    fixed = await auditor.handle(batch(60, snap("sg-a", PARTNER, foreign)))
    assert [(e.type, e.issue.rule_id) for e in fixed if e.issue] == [
        ("issue.fixed", "public-source")
    ]

    await db.accounts.insert_one(
        Account(id="999999999999", name="partner", trusted=True).to_mongo()
    )
    fixed = await auditor.handle(batch(120, snap("sg-a", PARTNER, foreign)))
    assert sorted(e.issue.rule_id for e in fixed if e.issue) == [
        "large-port-range",
        "unknown-account",
    ]
    assert all(e.type == "issue.fixed" for e in fixed)
    item = await db.items.find_one({"_id": k})
    assert (item["open_issues"], item["seq"]) == (0, 1)


async def test_a_monitored_account_is_known_but_not_trusted(db: Database) -> None:
    await db.accounts.insert_one(Account(id="999999999999", name="other team").to_mongo())
    auditor = Auditor(db, RulesConfig())
    foreign = ingress((0, 65535), "sg-999", source_account="999999999999")
    opened = await auditor.handle(batch(0, snap("sg-a", foreign)))
    assert [e.issue.rule_id for e in opened if e.issue] == ["large-port-range"]


async def test_account_name_is_carried_on_items_and_events(db: Database) -> None:
    await db.accounts.insert_one(Account(id="111111111111", name="payments-prod").to_mongo())
    events = await Auditor(db, RulesConfig()).handle(batch(0, snap("sg-a", SSH_WORLD)))
    assert {e.account_name for e in events} == {"payments-prod"}
    assert (await db.items.find_one({"_id": key("sg-a")}))["account_name"] == "payments-prod"


async def test_a_new_rules_file_re_audits_unchanged_groups(db: Database) -> None:
    await Auditor(db, RulesConfig()).handle(batch(0, snap("sg-a", SSH_WORLD)))
    stricter = parse_rules("rules:\n  internet-admin-port: {severity: critical}\n")
    escalated = await Auditor(db, stricter).handle(batch(60, snap("sg-a", SSH_WORLD)))
    assert types(escalated) == ["issue.escalated"]
    assert (await db.issues.find_one({}))["severity"] == "critical"
    disabled = parse_rules("rules:\n  internet-admin-port: {enabled: false}\n")
    events = await Auditor(db, disabled).handle(batch(120, snap("sg-a", SSH_WORLD)))
    assert sorted((e.type, e.issue.rule_id) for e in events if e.issue) == [
        ("issue.fixed", "internet-admin-port"),
        ("issue.opened", "internet-ingress"),
    ]


async def justify(db: Database, iid: str, until_seconds: float | None) -> None:
    """What the api does when an auditor justifies an issue."""
    justification = Justification(
        by="alice",
        reason="bastion host",
        until=at(until_seconds) if until_seconds is not None else None,
        at=at(30),
    )
    await db.issues.update_one(
        {"_id": iid},
        {"$set": {"status": "justified", "justification": justification.model_dump()}},
    )


async def test_a_justified_finding_stays_silent_until_it_expires(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    iid = issue_id(k, "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=600)

    # The group changes (a tag): the finding itself is the same.
    quiet = await auditor.handle(batch(60, snap("sg-a", SSH_WORLD, tags={"Owner": "x"})))
    assert types(quiet) == ["group.changed"]
    issue = await db.issues.find_one({"_id": iid})
    assert (issue["status"], issue["severity"], issue["justification"]["by"]) == (
        "justified",
        "high",
        "alice",
    )
    assert (await db.items.find_one({"_id": k}))["open_issues"] == 0

    assert await auditor.expire_justifications(now=at(300)) == []
    expired = await auditor.expire_justifications(now=at(601))
    assert [(e.type, e.issue.issue_id, e.issue.status) for e in expired] == [
        ("issue.opened", iid, "open")
    ]
    assert (await db.issues.find_one({"_id": iid}))["status"] == "open"
    assert (await db.items.find_one({"_id": k}))["open_issues"] == 1
    assert await auditor.expire_justifications(now=at(700)) == []
    assert await auditor.handle(batch(700, snap("sg-a", SSH_WORLD, tags={"Owner": "x"}))) == []


async def test_an_expired_justification_is_noticed_when_the_group_is_next_seen(
    db: Database,
) -> None:
    auditor = Auditor(db, RulesConfig())
    iid = issue_id(key("sg-a"), "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=100)
    events = await auditor.handle(batch(200, snap("sg-a", SSH_WORLD, tags={"Owner": "y"})))
    assert types(events) == ["group.changed", "issue.opened"]
    # the periodic expiry finds nothing left to do, and would have used the same id
    assert await auditor.expire_justifications(now=at(300)) == []
    assert await db.events.count_documents({"type": "issue.opened"}) == 2


async def test_a_changed_finding_is_not_covered_by_the_old_justification(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    iid = issue_id(key("sg-a"), "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=None)
    wider = ingress((20, 23), "0.0.0.0/0")
    events = await auditor.handle(batch(60, snap("sg-a", wider)))
    assert sorted((e.type, e.issue.rule_text) for e in events if e.issue) == [
        ("issue.fixed", SSH_WORLD.text()),
        ("issue.opened", wider.text()),
    ]
    assert (await db.items.find_one({"_id": key("sg-a")}))["open_issues"] == 1


async def test_a_justification_extended_after_the_expiry_scan_is_left_alone(
    db: Database,
) -> None:
    """The expiry scan runs outside any turn (a scan of the issues on FerretDB); what it
    found is read again in the account-region's turn, so a justification extended in
    between is not undone."""
    auditor = Auditor(db, RulesConfig())
    iid = issue_id(key("sg-a"), "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=100)
    found = await expired_issues(auditor.store, at(150))
    assert found == {(ACCOUNT, REGION): [iid]}
    await justify(db, iid, until_seconds=1000)  # extended meanwhile
    made = await expire_justifications(
        auditor.store, auditor.contexts, auditor.outbox, found[(ACCOUNT, REGION)], at(150)
    )
    assert made == []
    assert (await db.issues.find_one({"_id": iid}))["status"] == "justified"


async def test_justification_expiry_is_idempotent(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    iid = issue_id(key("sg-a"), "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=100)
    first = await Auditor(db, RulesConfig()).expire_justifications(now=at(150))
    await justify(db, iid, until_seconds=100)  # as if the first run stopped before its commit
    await db.issues.update_one({"_id": iid}, {"$set": {"transition": first and None}})
    second = await auditor.expire_justifications(now=at(150) + timedelta(seconds=1))
    assert [e.event_id for e in first] == [e.event_id for e in second]
    assert await db.events.count_documents({"type": "issue.opened"}) == 2


async def test_a_justified_finding_whose_severity_rises_is_open_again_with_an_event(
    db: Database,
) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    iid = issue_id(k, "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await justify(db, iid, until_seconds=None)  # accepted at high, for good

    # The group is attached to an interface with a public IP: high becomes critical.
    exposed = batch(60, snap("sg-a", SSH_WORLD, attachments=PUBLIC))
    events = await auditor.handle(exposed)
    assert [
        (e.type, e.issue.status, e.issue.severity, e.issue.previous_severity) for e in events
    ] == [("issue.escalated", "open", "critical", "high")]
    issue = await db.issues.find_one({"_id": iid})
    assert (issue["status"], issue["severity"], issue["justification"]) == (
        "open",
        "critical",
        None,
    )
    assert issue["lapsed_justification"]["by"] == "alice"  # kept for the record
    item = await db.items.find_one({"_id": k})
    assert (item["open_issues"], item["max_severity"], item["max_severity_rank"]) == (
        1,
        "critical",
        4,
    )
    stored = await db.events.find({"type": "issue.escalated"}).to_list(None)
    assert [d["_id"] for d in stored] == [events[0].event_id]
    assert stored[0]["issue"]["previous_severity"] == "high"

    # The same observation again (a redelivery) changes nothing and says nothing.
    assert await Auditor(db, RulesConfig()).handle(exposed) == []
    # Back to a private address: the severity drops silently and the issue stays open.
    assert await auditor.handle(batch(120, snap("sg-a", SSH_WORLD))) == []
    issue = await db.issues.find_one({"_id": iid})
    assert (issue["status"], issue["severity"]) == ("open", "high")
    assert await db.events.count_documents({"type": "issue.escalated"}) == 1


async def test_a_severity_drop_keeps_a_justification_and_stays_silent(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    iid = issue_id(k, "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD, attachments=PUBLIC)))
    await justify(db, iid, until_seconds=None)
    assert await auditor.handle(batch(60, snap("sg-a", SSH_WORLD))) == []
    issue = await db.issues.find_one({"_id": iid})
    assert (issue["status"], issue["severity"], issue["justification"]["by"]) == (
        "justified",
        "high",
        "alice",
    )
    assert (await db.items.find_one({"_id": k}))["open_issues"] == 0


async def test_an_escalation_in_a_new_revision_comes_with_the_group_change(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    k = key("sg-a")
    rdp = ingress(3389, "0.0.0.0/0")
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    events = await auditor.handle(batch(60, snap("sg-a", SSH_WORLD, rdp, attachments=PUBLIC)))
    assert sorted((e.type, e.seq, e.issue.rule_text if e.issue else "") for e in events) == [
        ("group.changed", 2, ""),
        ("issue.escalated", 2, SSH_WORLD.text()),
        ("issue.opened", 2, rdp.text()),
    ]
    escalated = next(e for e in events if e.type == "issue.escalated")
    assert escalated.issue is not None
    assert (escalated.issue.severity, escalated.issue.previous_severity) == ("critical", "high")
    assert await db.events.count_documents({"_id": escalated.event_id}) == 1
    item = await db.items.find_one({"_id": k})
    assert (item["open_issues"], item["max_severity"]) == (2, "critical")


async def test_a_justified_issue_of_a_deleted_group_escalates_when_it_returns_more_exposed(
    db: Database,
) -> None:
    auditor = Auditor(db, RulesConfig())
    iid = issue_id(key("sg-a"), "internet-admin-port", SSH_WORLD.text())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD), snap("sg-b")))
    await justify(db, iid, until_seconds=None)
    await auditor.handle(completed(60, ["sg-b"], started=30))
    assert (await db.issues.find_one({"_id": iid}))["status"] == "deleted"

    back = await auditor.handle(batch(120, snap("sg-a", SSH_WORLD, attachments=PUBLIC)))
    assert [(e.type, e.issue.issue_id if e.issue else None) for e in back] == [
        ("group.restored", None),
        ("issue.escalated", iid),
    ]
    issue = await db.issues.find_one({"_id": iid})
    assert (issue["status"], issue["severity"], issue["justification"]) == (
        "open",
        "critical",
        None,
    )
