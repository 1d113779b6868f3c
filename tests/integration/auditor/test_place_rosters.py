"""Each account-region's roster of groups, so that a sweep's end and a summary read their
items by `_id` (FerretDB parses every document of a collection for any other filter)."""

from __future__ import annotations

import asyncio

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import issue_counters, place_rosters
from secmonkey.common.storage import Database, Store
from tests.integration.auditor.kit import ACCOUNT, REGION, batch, completed, ingress, key, snap


async def roster(db: Database) -> list[str]:
    return await place_rosters.group_ids(Store(db), ACCOUNT, REGION)


async def test_groups_enter_the_roster_when_created_and_leave_it_when_deleted(
    db: Database,
) -> None:
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a", ingress(22, "10.0.0.0/8")), snap("sg-b")))
    assert await roster(db) == ["sg-a", "sg-b"]
    await auditor.handle(batch(1, snap("sg-c")))
    assert await roster(db) == ["sg-a", "sg-b", "sg-c"]

    # A complete sweep that misses sg-b deletes it (read from the roster, not by a scan).
    events = await auditor.handle(completed(5, ["sg-a", "sg-c"]))
    assert [(e.type, e.group_id) for e in events] == [("group.deleted", "sg-b")]
    assert await roster(db) == ["sg-a", "sg-c"]
    item = await db.items.find_one({"_id": key("sg-b")})
    assert item is not None and item["state"] == "deleted"

    # Seen again: restored, and back on the roster.
    events = await auditor.handle(batch(6, snap("sg-b")))
    assert [e.type for e in events if e.type.startswith("group.")] == ["group.restored"]
    assert await roster(db) == ["sg-a", "sg-b", "sg-c"]


async def test_a_stale_entry_is_skipped_and_struck_off(db: Database) -> None:
    """A crash between the roster entry and the item's commit leaves an entry without an
    item: readers skip it (no deletion of a group that never existed) and strike it off."""
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a")))
    await place_rosters.enter(db, ACCOUNT, REGION, ["sg-ghost"])
    assert await roster(db) == ["sg-a", "sg-ghost"]
    active = await place_rosters.active_items(Store(db), ACCOUNT, REGION, {"last_seen": 1})
    assert [d["_id"] for d in active] == [key("sg-a")]
    assert await roster(db) == ["sg-a"]
    await place_rosters.enter(db, ACCOUNT, REGION, ["sg-ghost"])
    assert await auditor.handle(completed(5, ["sg-a"])) == []
    assert await roster(db) == ["sg-a"]


async def test_backfill_builds_the_rosters_of_an_older_database_once(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a"), snap("sg-b")))
    await auditor.handle(batch(1, snap("sg-x", account="222222222222"), account="222222222222"))
    await db[place_rosters.ROSTERS].drop()  # a database from before the rosters
    assert await roster(db) == []
    assert await auditor.ensure_rosters() == 2
    assert await roster(db) == ["sg-a", "sg-b"]
    assert await place_rosters.group_ids(Store(db), "222222222222", REGION) == ["sg-x"]
    assert await auditor.ensure_rosters() == 0  # once


async def test_issues_no_item_lists_are_logged_once_each_and_counted(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a")))
    # Two writers log at once: neither entry is lost; a repeat is not logged again.
    await asyncio.gather(
        *(place_rosters.log_issue(db, ACCOUNT, REGION, iid) for iid in ("i-1", "i-2", "i-3"))
    )
    await place_rosters.log_issue(db, ACCOUNT, REGION, "i-2")
    assert sorted(await place_rosters.logged_issue_ids(db, ACCOUNT, REGION)) == [
        "i-1",
        "i-2",
        "i-3",
    ]
    assert await place_rosters.logged_issue_ids(db, ACCOUNT, "us-east-1") == []

    # An open issue of the place that no item lists is in the summary's per-rule counts.
    await db.issues.insert_one(
        {
            "_id": "i-2",
            "key": key("sg-a"),
            "account_id": ACCOUNT,
            "region": REGION,
            "group_id": "sg-a",
            "rule_id": "unauthorized-change",
            "severity": "high",
            "severity_rank": 3,
            "status": "open",
        }
    )
    summary = await issue_counters.summarise(db, ACCOUNT, REGION)
    assert {"rule_id": "unauthorized-change", "severity": "high", "n": 1} in summary["rules"]
    assert "i-2" in [d["_id"] for d in summary["top"]]
    # That issue lacks what a report shows (a name, a message...): the counts are still
    # recomputed, and the place keeps no report rows, so the report reads the issues.
    rows = await db[issue_counters.ROWS].find_one({"_id": f"{ACCOUNT}:{REGION}"})
    assert rows is not None and rows["lines"] is None
    assert await issue_counters.read_open_rows(db, ACCOUNT, -1) is None
