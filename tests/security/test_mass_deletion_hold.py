"""Whoever can publish a `SweepCompleted` cannot wipe an estate with it: a complete sweep
that would delete more than half of an account-region's groups (more than 10 of them)
deletes nothing, raises one `system.deletion_held` event, and waits for a second complete
sweep; deletions a targeted describe confirmed (real time) are never held. On the real
MongoDB-protocol server, through the auditor's own pipeline."""

from __future__ import annotations

from typing import Any

import pytest

from secmonkey.auditor.deletion_hold import HoldPolicy
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.messages import Event, SnapshotBatch
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import ACCOUNT, REGION, at, batch, completed, ingress, key, snap

pytestmark = pytest.mark.integration
GROUPS = [f"sg-{i:04d}" for i in range(12)]


@pytest.fixture
def auditor(db: Database) -> Auditor:
    return Auditor(db, RulesConfig())  # the default policy: more than 50 %, more than 10


async def estate(auditor: Auditor, groups: list[str] = GROUPS) -> None:
    await auditor.handle(batch(0, *(snap(g, ingress(443, "10.0.0.0/8")) for g in groups)))


async def deleted(db: Database) -> set[str]:
    docs = await db.items.find({"state": "deleted"}, {"group_id": 1}).to_list(None)
    return {d["group_id"] for d in docs}


def types(events: list[Event]) -> list[str]:
    return sorted(e.type for e in events)


async def stored_holds(db: Database) -> list[dict[str, Any]]:
    return await db.events.find({"type": "system.deletion_held"}).to_list(None)


async def test_empty_sweep_cannot_mass_delete(db: Database, auditor: Auditor) -> None:
    await estate(auditor)
    forged = completed(60, [], started=50, sweep="forged")
    events = await auditor.handle(forged)
    assert types(events) == ["system.deletion_held"]
    assert events[0].system is not None and "12 of 12 groups" in events[0].system.detail
    assert events[0].account_id == ACCOUNT and events[0].region == REGION
    # a new type: stamped so that a previous build's readers accept it as the next version
    assert events[0].schema_version == 3
    assert await deleted(db) == set()
    # the same message again (a redelivery, or a replay) is still the first sweep
    again = await auditor.handle(forged)
    assert types(again) == ["system.deletion_held"] and await deleted(db) == set()
    assert len(await stored_holds(db)) == 1  # one event, however often it comes


async def test_a_second_complete_sweep_confirms_the_deletion(
    db: Database, auditor: Auditor
) -> None:
    await estate(auditor)
    await auditor.handle(completed(60, [], started=50, sweep="first"))
    events = await auditor.handle(completed(120, [], started=110, sweep="second"))
    assert types(events) == ["group.deleted"] * 12
    assert await deleted(db) == set(GROUPS)
    assert await db.deletion_holds.count_documents({}) == 0


async def test_only_what_both_sweeps_missed_is_deleted(db: Database, auditor: Auditor) -> None:
    await estate(auditor)
    await auditor.handle(completed(60, GROUPS[9:], started=50, sweep="first"))  # 9 missing
    events = await auditor.handle(completed(120, GROUPS[8:], started=110, sweep="second"))
    assert types(events) == ["group.deleted"] * 8
    assert await deleted(db) == set(GROUPS[:8])  # sg-0008 came back: it stays


async def test_groups_seen_again_release_the_hold(db: Database, auditor: Auditor) -> None:
    await estate(auditor)
    await auditor.handle(completed(60, [], started=50, sweep="glitch"))
    assert await auditor.handle(completed(120, GROUPS, started=110, sweep="next")) == []
    assert await db.deletion_holds.count_documents({}) == 0
    # a later empty sweep is a first sweep again: held, not confirmed by the glitch
    events = await auditor.handle(completed(180, [], started=170, sweep="later"))
    assert types(events) == ["system.deletion_held"] and await deleted(db) == set()


async def test_half_or_fewer_are_deleted_at_once(db: Database, auditor: Auditor) -> None:
    await estate(auditor)
    events = await auditor.handle(completed(60, GROUPS[6:], started=50))  # 6 of 12: not more
    assert types(events) == ["group.deleted"] * 6


async def test_small_account_regions_are_not_held(db: Database, auditor: Auditor) -> None:
    await estate(auditor, GROUPS[:10])
    events = await auditor.handle(completed(60, [], started=50))
    assert types(events) == ["group.deleted"] * 10


async def test_deletions_a_targeted_describe_confirmed_are_not_held(
    db: Database, auditor: Auditor
) -> None:
    await estate(auditor)
    gone = SnapshotBatch(
        sweep_id="event-1",
        account_id=ACCOUNT,
        region=REGION,
        observed_at=at(60),
        groups=[],
        source="event",
        missing_group_ids=GROUPS[:11],
    )
    events = await auditor.handle(gone)
    assert types(events) == ["group.deleted"] * 11
    assert await deleted(db) == set(GROUPS[:11])


async def test_the_share_is_a_setting(db: Database) -> None:
    strict = Auditor(db, RulesConfig(), hold=HoldPolicy(share=0.25, min_groups=10))
    await estate(strict)
    events = await strict.handle(completed(60, GROUPS[4:], started=50))  # 4 of 12 > 25 %
    assert types(events) == ["system.deletion_held"]
    assert await deleted(db) == set()
    assert key(GROUPS[0]) in (await db.deletion_holds.find_one({}) or {})["keys"]
