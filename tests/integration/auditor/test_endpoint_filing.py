"""Exposed endpoints are filed per batch in a few bulk commands, every document by `_id`;
a refile that stopped half-way is finished by the next batch, with no document left over."""

from __future__ import annotations

from typing import Any

import pytest

from secmonkey.auditor.exposure.endpoints import EXPOSURES, STATE, EndpointFiler
from secmonkey.common.canonical import Attachments
from secmonkey.common.storage import Database
from secmonkey.common.topology import Endpoint, PortRange
from tests.integration.auditor.kit import ACCOUNT, REGION, at, ingress, key, snap


def exposed(*addresses: str) -> Attachments:
    endpoints = [
        Endpoint(
            resource_type="instance",
            resource_id=f"i-{n}",
            address=address,
            rule_text="tcp/22 from 0.0.0.0/0",
            protocol="tcp",
            ports=[PortRange(low=22, high=22), PortRange(low=80, high=80)],
            route="rtb-1/igw-1",
        )
        for n, address in enumerate(addresses)
    ]
    return Attachments(interface_count=len(addresses), endpoints=endpoints)


async def filed(db: Database) -> list[dict[str, Any]]:
    return await db[EXPOSURES].find({}).sort("_id", 1).to_list(None)


@pytest.mark.parametrize("own_places", [False, True], ids=["shared", "sole-holder"])
async def test_a_refile_replaces_the_documents_and_forget_removes_them(
    db: Database, own_places: bool
) -> None:
    filer = EndpointFiler(db, own_places=own_places)
    rule = ingress(22, "0.0.0.0/0")
    two = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.1.1.1", "54.1.1.2"))}
    none = {key("sg-b"): snap("sg-b", rule, attachments=exposed())}
    assert await filer.file({**two, **none}, ACCOUNT, REGION, at(0)) == 2
    assert [d["address"] for d in await filed(db)] == [
        "54.1.1.1",
        "54.1.1.1",
        "54.1.1.2",
        "54.1.1.2",
    ]
    assert await filer.file({**two, **none}, ACCOUNT, REGION, at(1)) == 0  # unchanged

    one = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.9.9.9"))}
    assert await filer.file(one, ACCOUNT, REGION, at(2)) == 1
    assert [d["address"] for d in await filed(db)] == ["54.9.9.9", "54.9.9.9"]
    assert await filer.file(two, ACCOUNT, REGION, at(1)) == 0  # an older observation

    await filer.forget([key("sg-a"), key("sg-b")])
    assert await filed(db) == []
    assert await db[STATE].count_documents({}) == 0


async def test_a_refile_stopped_half_way_is_finished_by_the_next(db: Database) -> None:
    filer = EndpointFiler(db)
    rule = ingress(22, "0.0.0.0/0")
    two = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.1.1.1", "54.1.1.2"))}
    await filer.file(two, ACCOUNT, REGION, at(0))
    # The process stopped after widening the state and inserting the new documents (three
    # endpoints), before the final state: the state names them all, with no digest.
    ids = [d["_id"] for d in await filed(db)]
    extra = [f"{key('sg-a')}|2|{m}" for m in (0, 1)]
    await db[EXPOSURES].insert_many([{"_id": i, "key": key("sg-a")} for i in extra])
    await db[STATE].update_one(
        {"_id": key("sg-a")}, {"$set": {"digest": None, "ids": sorted(ids + extra)}}
    )
    one = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.9.9.9"))}
    assert await filer.file(one, ACCOUNT, REGION, at(1)) == 1
    assert [d["address"] for d in await filed(db)] == ["54.9.9.9", "54.9.9.9"]


async def test_documents_filed_before_the_states_listed_ids_are_replaced(db: Database) -> None:
    filer = EndpointFiler(db)
    rule = ingress(22, "0.0.0.0/0")
    await filer.file(
        {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.1.1.1", "54.1.1.2"))},
        ACCOUNT,
        REGION,
        at(0),
    )
    await db[STATE].update_one({"_id": key("sg-a")}, {"$unset": {"ids": ""}})
    one = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.9.9.9"))}
    assert await filer.file(one, ACCOUNT, REGION, at(1)) == 1
    assert [d["address"] for d in await filed(db)] == ["54.9.9.9", "54.9.9.9"]


async def test_a_sole_holder_files_unchanged_groups_without_reading_their_state(
    db: Database,
) -> None:
    """With one holder per account-region, what this process filed is known without a read
    (the state is not read again: a change made behind its back goes unseen) until it takes
    a partition, when it reads the states again."""
    filer = EndpointFiler(db, own_places=True)
    rule = ingress(22, "0.0.0.0/0")
    one = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.1.1.1"))}
    assert await filer.file(one, ACCOUNT, REGION, at(0)) == 1
    await db[STATE].delete_many({})  # behind the holder's back
    assert await filer.file(one, ACCOUNT, REGION, at(1)) == 0  # known unchanged: not read
    assert await db[STATE].count_documents({}) == 0
    filer.forget_known()  # a partition taken
    assert await filer.file(one, ACCOUNT, REGION, at(2)) == 1  # read, missing: filed again
    state = await db[STATE].find_one({"_id": key("sg-a")})
    assert state is not None and len(state["ids"]) == 2
    # A change is filed whatever is known, and a forgotten group is read again.
    moved = {key("sg-a"): snap("sg-a", rule, attachments=exposed("54.2.2.2"))}
    assert await filer.file(moved, ACCOUNT, REGION, at(3)) == 1
    assert {d["address"] for d in await filed(db)} == {"54.2.2.2"}
    await filer.forget([key("sg-a")])
    assert await filed(db) == []
    assert await filer.file(moved, ACCOUNT, REGION, at(4)) == 1


async def test_new_groups_states_are_inserted_and_one_found_existing_is_replaced(
    db: Database,
) -> None:
    """The states of groups with nothing filed are inserted together; a state that exists
    after all (the roster said unfiled, a crash had left one) refuses the insert and is
    replaced by the new one."""
    filer = EndpointFiler(db, own_places=True)
    rule = ingress(22, "0.0.0.0/0")
    await db[STATE].insert_one({"_id": key("sg-b"), "digest": "stale", "ids": ["x"]})
    groups = {
        key("sg-a"): snap("sg-a", rule, attachments=exposed()),
        key("sg-b"): snap("sg-b", rule, attachments=exposed()),
    }
    unfiled = {key("sg-a"), key("sg-b")}
    assert await filer.file(groups, ACCOUNT, REGION, at(0), unfiled) == 2
    states = {d["_id"]: d for d in await db[STATE].find({}).to_list(None)}
    assert set(states) == unfiled
    assert states[key("sg-a")]["digest"] == states[key("sg-b")]["digest"] != "stale"
    assert states[key("sg-a")]["ids"] == states[key("sg-b")]["ids"] == []
    assert await filer.file(groups, ACCOUNT, REGION, at(1)) == 0  # filed: unchanged
