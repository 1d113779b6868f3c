"""Issue summaries per account-region: what a report of the whole estate sums. Recomputed,
never incremented, by the auditor that holds the account-region; a justification in the
API leaves a mark and the summary follows without the API writing it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import issue_counters, justifications
from secmonkey.common.documents import Justification
from secmonkey.common.severity import SEVERITY_RANK
from secmonkey.common.storage import Database, Store
from tests.integration.auditor.kit import ACCOUNT, REGION, batch, completed, ingress, key, snap


async def test_the_summary_counts_open_issues_and_follows_a_justification(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    events = await auditor.handle(
        batch(
            0,
            snap("sg-open", ingress(22, "0.0.0.0/0")),
            snap("sg-closed", ingress(443, "10.0.0.0/8")),
        )
    )
    assert events
    summary = await db[issue_counters.SUMMARIES].find_one({"_id": f"{ACCOUNT}:{REGION}"})
    assert summary is not None
    item = await db.items.find_one({"_id": key("sg-open")})
    assert item is not None and item["open_issues"] >= 1
    assert summary["open_issues"] == sum([d.get("open_issues", 0) async for d in db.items.find({})])
    assert summary["groups_with_open"] >= 1
    assert summary["groups_by_severity"].get(item["max_severity"], 0) >= 1
    before = summary["open_issues"]
    # What reports count by rule and severity: every open issue, once.
    open_issues = [d async for d in db.issues.find({"status": "open"})]
    counted: dict[tuple[str, str], int] = {}
    for issue in open_issues:
        place = (issue["rule_id"], issue["severity"])
        counted[place] = counted.get(place, 0) + 1
    assert {(r["rule_id"], r["severity"]): r["n"] for r in summary["rules"]} == counted
    summaries = await issue_counters.read_summaries(db)
    assert sum(n for *_, n in issue_counters.summary_rows(summaries)) == before
    assert await issue_counters.read_summaries(db, "999999999999") == []
    # ... and the most severe open issues, in a report's order (what a dashboard lists).
    ranked = sorted(open_issues, key=lambda d: (-d["severity_rank"], d["_id"]))
    top = issue_counters.summary_top(summaries, -1, issue_counters.TOP)
    assert [d["_id"] for d in top] == [d["_id"] for d in ranked[: issue_counters.TOP]]
    highest = ranked[0]["severity_rank"]
    assert all(
        d["severity_rank"] == highest for d in issue_counters.summary_top(summaries, highest, 3)
    )

    # The API justifies every open issue of sg-open: it marks, it does not write the summary.
    justification = Justification(by="alice", reason="bastion", at=datetime.now(UTC))
    store = Store(db)
    for issue_id in item["issue_ids"]:
        issue = await db.issues.find_one({"_id": issue_id})
        if issue and issue["status"] == "open":
            await justifications.justify(store, issue_id, justification)
    unchanged = await db[issue_counters.SUMMARIES].find_one({"_id": f"{ACCOUNT}:{REGION}"})
    assert unchanged is not None and unchanged["open_issues"] == before
    assert await db[issue_counters.SUMMARY_MARKS].count_documents({}) == 1

    # A replica that does not hold the account-region leaves the mark; the holder settles it.
    assert await auditor.settle_summaries(lambda _a, _r: False) == 0
    assert await auditor.settle_summaries(lambda a, r: (a, r) == (ACCOUNT, REGION)) == 1
    after = await db[issue_counters.SUMMARIES].find_one({"_id": f"{ACCOUNT}:{REGION}"})
    assert after is not None
    assert after["open_issues"] == before - item["open_issues"]
    assert await db[issue_counters.SUMMARY_MARKS].count_documents({}) == 0

    totals = await issue_counters.summary_totals(db)
    assert totals["open_issues"] == after["open_issues"]
    assert await issue_counters.summary_totals(db, ["999999999999"]) == {
        "open_issues": 0,
        "groups_with_open": 0,
        "groups_by_severity": {},
    }


async def _has_rules(db: Database) -> bool:
    doc = await db[issue_counters.SUMMARIES].find_one({"_id": f"{ACCOUNT}:{REGION}"})
    return doc is not None and "rules" in doc


async def test_every_sweep_end_recounts_its_place(db: Database) -> None:
    """A summary missed (a crash between the commit and the recount) or of an older shape is
    right again at the account-region's next sweep end, even when nothing changed."""
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-open", ingress(22, "0.0.0.0/0"))))
    place = {"_id": f"{ACCOUNT}:{REGION}"}
    await db[issue_counters.SUMMARIES].update_one(place, {"$unset": {"rules": "", "shape": ""}})

    assert await auditor.handle(batch(2, snap("sg-open", ingress(22, "0.0.0.0/0")))) == []
    assert not await _has_rules(db)  # an unchanged batch recounts nothing
    assert await auditor.handle(completed(3, ["sg-open"])) == []
    assert await _has_rules(db)
    rows = issue_counters.summary_rows(await issue_counters.read_summaries(db))
    expected = {(ACCOUNT, d["rule_id"]) async for d in db.issues.find({"status": "open"})}
    assert expected and {(a, rule) for a, rule, _, _ in rows} == expected


async def test_with_a_delay_changes_are_recounted_once_after_the_alerts(db: Database) -> None:
    auditor = Auditor(db, RulesConfig(), summary_delay=0.5)
    try:
        events = await auditor.handle(batch(0, snap("sg-a", ingress(22, "0.0.0.0/0"))))
        events += await auditor.handle(batch(1, snap("sg-b", ingress(3389, "0.0.0.0/0"))))
        assert events and auditor.summaries.due == 1  # two changes, one place, one recount due
        assert await db[issue_counters.SUMMARIES].find_one({}) is None  # not yet
        for _ in range(100):
            if auditor.summaries.due == 0 and await _has_rules(db):
                break
            await asyncio.sleep(0.1)
        rows = issue_counters.summary_rows(await issue_counters.read_summaries(db))
        open_now = await db.issues.count_documents({"status": "open"})
        assert open_now > 0 and sum(n for *_, n in rows) == open_now
    finally:
        await auditor.summaries.stop()


async def test_a_sole_holder_recounts_an_unchanged_sweep_end_once_per_partition_taken(
    db: Database,
) -> None:
    """With partitions (one holder per account-region) an unchanged sweep's end recounts the
    summary only where this process has not recounted it since it last took a partition:
    a new process (after a crash, an upgrade to a new shape) and a partition taken back
    from another replica recount; the next unchanged sweep ends cost no recount."""
    place = {"_id": f"{ACCOUNT}:{REGION}"}
    auditor = Auditor(db, RulesConfig(), own_places=True)
    await auditor.handle(batch(0, snap("sg-open", ingress(22, "0.0.0.0/0"))))  # recounted
    await db[issue_counters.SUMMARIES].update_one(place, {"$unset": {"rules": ""}})
    assert await auditor.handle(completed(1, ["sg-open"])) == []
    assert not await _has_rules(db)  # this process recounted the place: left as it is

    auditor.summaries.forget_recounts()  # the partition was taken again
    assert await auditor.handle(completed(2, ["sg-open"])) == []
    assert await _has_rules(db)

    await db[issue_counters.SUMMARIES].update_one(place, {"$unset": {"rules": ""}})
    restarted = Auditor(db, RulesConfig(), own_places=True)  # a new process
    assert await restarted.handle(completed(3, ["sg-open"])) == []
    assert await _has_rules(db)
    # A change always recounts, recounted before or not.
    await db[issue_counters.SUMMARIES].update_one(place, {"$unset": {"rules": ""}})
    assert await restarted.handle(batch(4, snap("sg-open", ingress(3389, "0.0.0.0/0"))))
    assert await _has_rules(db)


OTHER = "999999999999"


async def test_the_summaries_keep_every_open_issue_for_the_full_report(db: Database) -> None:
    """Each summary keeps its place's open issues in report order; merged, they are the
    estate's open issues in report order. A place the API marked since (a justification)
    is read as its holder will recount it; a summary without rows (an older shape) makes
    the reader fall back to the issues themselves (None)."""
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(
        batch(
            0,
            snap("sg-open", ingress(22, "0.0.0.0/0")),
            snap("sg-rdp", ingress(3389, "0.0.0.0/0")),
            snap("sg-web", ingress(443, "0.0.0.0/0")),
        )
    )
    await auditor.handle(batch(1, snap("sg-other", ingress(22, "0.0.0.0/0")), account=OTHER))
    opened = await db.issues.find({"status": "open"}).to_list(None)
    order = sorted(opened, key=lambda d: (-d["severity_rank"], d["_id"]))
    places = await issue_counters.read_open_rows(db, None, -1)
    assert places is not None and len(places) == 2
    merged = list(issue_counters.in_report_order(places))
    assert [r.id for r in merged] == [d["_id"] for d in order]
    assert [json.loads(r.json)["id"] for r in merged] == [r.id for r in merged]
    assert all(b"transition" not in r.json for r in merged)
    high = SEVERITY_RANK["high"]
    kept = await issue_counters.read_open_rows(db, ACCOUNT, high)
    assert kept is not None
    assert {r.id for p in kept for r in p} == {
        d["_id"] for d in opened if d["severity_rank"] >= high and d["account_id"] == ACCOUNT
    }

    justified = order[0]["_id"]
    justification = Justification(by="alice", reason="accepted", at=datetime.now(UTC))
    await justifications.justify(Store(db), justified, justification)  # marks, no recount
    places = await issue_counters.read_open_rows(db, None, -1)
    assert places is not None
    assert justified not in {r.id for p in places for r in p}

    await db[issue_counters.ROWS].delete_one({"_id": f"{ACCOUNT}:{REGION}"})  # older release
    assert await issue_counters.read_open_rows(db, None, -1) is None
