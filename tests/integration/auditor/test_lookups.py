"""The search lookups the auditor files (rule postings, group IDs) follow every change.

They are what `/search/ip`, `/search/cidr` (contains, exact) and `/groups/resolve` read,
so a missing entry would hide a rule that lets an address in, and a stale one would show
a rule that no longer exists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import monitoring

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import storage
from secmonkey.common.cidr import parse_network
from secmonkey.common.partitions import partition_of
from secmonkey.common.search_index import directory
from secmonkey.common.search_index.format import (
    BUILT_ID,
    LENGTHS_ID,
    LISTED_ID,
    PLACE_SHARDS,
    POSTINGS,
    RANGES,
    Entry,
    entry_position,
    lines_of,
    place_of,
    places_id,
    posting_id,
    range_id,
    shard_id,
    shard_of,
)
from secmonkey.common.search_index.reader import match_fields, search_postings
from secmonkey.common.storage import Database, capabilities_of
from tests.integration.auditor.kit import batch, completed, ingress, key, snap, snapshot
from tests.integration.finds import LockCounting

pytestmark = pytest.mark.integration

SSH_WORLD = ingress(22, "0.0.0.0/0")
HTTPS_CORP = ingress(443, "10.20.0.0/16", description="corp")
HTTPS_V6 = ingress(443, "2001:db8:5::/48")
EGRESS_ALL = ingress(None, "0.0.0.0/0", protocol="-1", direction="egress")


async def entries(db: Database, direction: str, cidr: str, group_key: str) -> list[Entry]:
    """The entries filed under one range for one item."""
    rid = range_id(direction, parse_network(cidr))
    doc = await db[POSTINGS].find_one({"_id": posting_id(rid, place_of(group_key))})
    rules = [line for line in lines_of(doc) if entry_position(line)[1] >= 0]  # no tombstones
    found = [Entry.decode(line, direction, place_of(group_key)) for line in rules]
    return [e for e in found if e.key == group_key]


async def test_postings_follow_create_change_delete_restore(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    web = key("sg-web")

    await auditor.handle(batch(0, snap("sg-web", SSH_WORLD, HTTPS_CORP, EGRESS_ALL)))
    [ssh] = await entries(db, "ingress", "0.0.0.0/0", web)
    assert ssh.rule == SSH_WORLD and ssh.name == "Group-sg-web" and ssh.vpc_id == "vpc-1"
    [corp] = await entries(db, "ingress", "10.20.0.0/16", web)
    assert corp.rule == HTTPS_CORP and corp.rule.description == "corp"
    assert len(await entries(db, "egress", "0.0.0.0/0", web)) == 1
    lengths = await db[RANGES].find_one({"_id": LENGTHS_ID})
    assert lengths is not None
    assert set(lengths["ingress:4"]) == {0, 16} and lengths["egress:4"] == [0]
    corp_range = range_id("ingress", parse_network("10.20.0.0/16"))
    head = await db[RANGES].find_one({"_id": corp_range})  # few places: in the range's head
    assert head is not None and head["places"] == [place_of(web)] and "shards" not in head
    assert set((await db.group_ids.find_one({"_id": "sg-web"}))["g"]) == {web}  # type: ignore[index]

    # changed: SSH closed, an IPv6 rule added
    await auditor.handle(batch(60, snap("sg-web", HTTPS_CORP, HTTPS_V6, EGRESS_ALL)))
    assert await entries(db, "ingress", "0.0.0.0/0", web) == []
    assert len(await entries(db, "ingress", "10.20.0.0/16", web)) == 1
    assert len(await entries(db, "ingress", "2001:db8:5::/48", web)) == 1

    # deleted: absent from a complete sweep, nothing of it stays searchable
    await auditor.handle(completed(120, [], started=100))
    for direction, cidr in [("ingress", "10.20.0.0/16"), ("ingress", "2001:db8:5::/48")]:
        assert await entries(db, direction, cidr, web) == []
    assert await entries(db, "egress", "0.0.0.0/0", web) == []
    seen = (await db.group_ids.find_one({"_id": "sg-web"}))["g"]  # type: ignore[index]
    assert seen[web]["state"] == "deleted" and seen[web]["deleted_at"] is not None
    assert seen[web]["name"] == "Group-sg-web" and seen[web]["region"] == "eu-west-1"

    # restored with its old SSH rule back
    await auditor.handle(batch(180, snap("sg-web", SSH_WORLD, EGRESS_ALL)))
    assert len(await entries(db, "ingress", "0.0.0.0/0", web)) == 1
    assert await entries(db, "ingress", "10.20.0.0/16", web) == []
    seen = (await db.group_ids.find_one({"_id": "sg-web"}))["g"]  # type: ignore[index]
    assert seen[web]["state"] == "active" and seen[web]["deleted_at"] is None


async def test_replays_and_older_observations_leave_the_lookups_alone(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    first = batch(0, snap("sg-a", SSH_WORLD), snap("sg-b", HTTPS_CORP))
    second = batch(60, snap("sg-a", HTTPS_CORP), snap("sg-b", HTTPS_CORP))
    await auditor.handle(first)
    await auditor.handle(second)
    before = await snapshot(db)
    await auditor.handle(second)
    await auditor.handle(first)  # older than what is stored
    assert await snapshot(db) == before
    assert await entries(db, "ingress", "0.0.0.0/0", key("sg-a")) == []


async def test_lookups_of_groups_stored_before_them_are_filed_once(db: Database) -> None:
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD, HTTPS_V6), snap("sg-b", HTTPS_CORP)))
    await auditor.handle(completed(60, ["sg-a"], started=30))  # sg-b deleted
    expected = await snapshot(db)
    for name in (RANGES, POSTINGS, "group_ids"):
        await db[name].delete_many({})  # as in a database from before the lookups existed

    assert await auditor.ensure_lookups() == 2
    restored = await snapshot(db)
    assert await db[RANGES].find_one({"_id": BUILT_ID}) is not None

    # the deleted group has no postings (its emptied document is not recreated); both
    # groups remain resolvable by ID
    def filed(docs: list[dict[str, Any]]) -> dict[str, Any]:
        rules = {d["_id"]: [x for x in lines_of(d) if entry_position(x)[1] >= 0] for d in docs}
        return {doc_id: lines for doc_id, lines in rules.items() if lines}

    assert filed(restored["rule_postings"]) == filed(expected["rule_postings"])
    assert len(filed(restored["rule_postings"])) == 2

    def content(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in d.items() if k != "v"} for d in docs]  # (not the version)

    assert content(restored["group_ids"]) == content(expected["group_ids"])
    place = place_of(key("sg-a"))
    heads = {d["_id"]: d for d in restored["rule_ranges"]}
    for cidr in ("0.0.0.0/0", "2001:db8:5::/48"):
        assert heads[range_id("ingress", parse_network(cidr))]["places"] == [place]
    assert LISTED_ID in heads  # (no shard to list)
    assert await auditor.ensure_lookups() == 0  # marked as done


async def test_a_stalled_writer_never_files_an_older_revision_over_a_newer(db: Database) -> None:
    """Two replicas: X stalls before filing revision 2 (SSH closed) while Y records it and
    then revision 3 (SSH open again); X's late lookups must not hide the open port."""
    guarded = capabilities_of(db.client).with_(conditional_writes=True)
    x = Auditor(db, RulesConfig(), capabilities=guarded)
    y = Auditor(db, RulesConfig(), capabilities=guarded)
    await y.handle(batch(0, snap("sg-g", SSH_WORLD, HTTPS_CORP)))
    gate, entered = asyncio.Event(), asyncio.Event()
    file_lookups = x.index.file

    async def stalled(*args: Any) -> None:
        entered.set()
        await gate.wait()
        await file_lookups(*args)

    x.index.file = stalled  # type: ignore[method-assign]
    late = asyncio.create_task(x.handle(batch(60, snap("sg-g", HTTPS_CORP))))
    await entered.wait()
    await y.handle(batch(60, snap("sg-g", HTTPS_CORP)))  # the redelivered copy
    await y.handle(batch(120, snap("sg-g", SSH_WORLD, HTTPS_CORP)))
    gate.set()
    await late

    assert (await db.items.find_one({"_id": key("sg-g")}))["seq"] == 3  # type: ignore[index]
    [ssh] = await entries(db, "ingress", "0.0.0.0/0", key("sg-g"))
    assert ssh.rule == SSH_WORLD
    seen = (await db.group_ids.find_one({"_id": "sg-g"}))["g"]  # type: ignore[index]
    assert seen[key("sg-g")]["seq"] == 3 and seen[key("sg-g")]["state"] == "active"


async def test_a_new_group_joins_lookup_documents_that_already_exist(db: Database) -> None:
    """A group seen for the first time is filed by insert, without a read; where its
    posting document (another group of the account-region with the range) or its group-ID
    document (the ID seen under another account) exists, the insert is refused and the
    document is edited instead: nothing already filed is lost."""
    auditor = Auditor(db, RulesConfig())
    await auditor.handle(batch(0, snap("sg-a", SSH_WORLD)))
    await auditor.handle(batch(60, snap("sg-b", SSH_WORLD)))
    assert len(await entries(db, "ingress", "0.0.0.0/0", key("sg-a"))) == 1
    assert len(await entries(db, "ingress", "0.0.0.0/0", key("sg-b"))) == 1

    other = "222222222222"
    await auditor.handle(batch(90, snap("sg-a", SSH_WORLD, account=other), account=other))
    seen = (await db.group_ids.find_one({"_id": "sg-a"}))["g"]  # type: ignore[index]
    assert set(seen) == {key("sg-a"), key("sg-a", other)}
    assert len(await entries(db, "ingress", "0.0.0.0/0", key("sg-a", other))) == 1


async def test_places_listed_by_older_auditors_are_searched_and_their_shards_listed_once(
    db: Database,
) -> None:
    """Before the shards a range's head listed its places itself; the tenth and eleventh
    sessions' auditors listed every place in a shard, without listing the shards in the
    head. Until the auditor's start lists them (`LISTED_ID`), a search reads every shard;
    after, the heads and the shards they list."""
    auditor = Auditor(db, RulesConfig())
    other, third = "222222222222", "333333333333"
    await auditor.handle(batch(0, snap("sg-old", SSH_WORLD)))
    await auditor.handle(batch(0, snap("sg-mid", SSH_WORLD, account=other), account=other))
    world = range_id("ingress", parse_network("0.0.0.0/0"))
    old_place, mid_place = place_of(key("sg-old")), place_of(key("sg-mid", other))
    # What older auditors left: a place in the head, another in its shard, unlisted.
    await db[RANGES].replace_one({"_id": world}, {"_id": world, "places": [old_place]})
    await db[RANGES].insert_one({"_id": places_id(world, mid_place), "places": [mid_place]})
    await auditor.handle(batch(0, snap("sg-new", SSH_WORLD, account=third), account=third))

    async def found() -> list[str]:
        hits, _ = await search_postings(
            db, parse_network("198.51.100.7"), "contains", "ingress", None, None, None, 100
        )
        return [match_fields(*h)["group_id"] for h in hits]

    assert await found() == ["sg-old", "sg-mid", "sg-new"]
    await db[RANGES].insert_one({"_id": BUILT_ID, "items": 3})  # (as they had filed them)
    assert await auditor.ensure_lookups() == 0
    head = await db[RANGES].find_one({"_id": world})
    assert head is not None and head["shards"] == [shard_of(mid_place)]
    assert set(head["places"]) == {old_place, place_of(key("sg-new", third))}
    assert await db[RANGES].find_one({"_id": LISTED_ID}) is not None
    assert await found() == ["sg-old", "sg-mid", "sg-new"]


async def test_a_search_reads_the_heads_and_only_the_shards_they_list(
    db: Database, mongo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the database's heads list their shards, a search reads the candidate ranges'
    heads, then only the shards those list (of 32 per range)."""
    monkeypatch.setattr(directory, "HEAD_PLACES", 1)  # a range of two places is sharded
    auditor = Auditor(db, RulesConfig())
    accounts = ["111111111111", "222222222222", "333333333333"]
    for account in accounts:
        await auditor.handle(batch(0, snap("sg-ssh", SSH_WORLD, account=account), account=account))
    await auditor.handle(batch(0, snap("sg-corp", HTTPS_CORP)))
    await auditor.ensure_lookups()
    world = range_id("ingress", parse_network("0.0.0.0/0"))
    head = await db[RANGES].find_one({"_id": world})
    assert head is not None and len(head["places"]) == 1 and len(head["shards"]) in (1, 2)

    reads: list[list[str]] = []

    class Reads(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name == "find" and event.command["find"] == RANGES:
                ids = event.command["filter"]["_id"]
                reads.append(ids["$in"] if isinstance(ids, dict) else [ids])

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...
        def failed(self, event: monitoring.CommandFailedEvent) -> None: ...

    client = storage.connect(mongo_url, event_listeners=[Reads()])
    try:
        await storage.detect(client)
        hits, _ = await search_postings(
            client[db.name], parse_network("10.20.3.4"), "contains", "ingress", None, None, None, 9
        )
    finally:
        await client.close()
    assert sorted(match_fields(*h)["key"] for h in hits) == sorted(
        [key("sg-ssh", a) for a in accounts] + [key("sg-corp")]
    )
    corp = range_id("ingress", parse_network("10.20.0.0/16"))
    read = sorted(i for ids in reads for i in ids)
    listed = [shard_id(world, n) for n in head["shards"]]
    assert read == sorted([LENGTHS_ID, LISTED_ID, world, corp, *listed])


async def test_a_holder_of_partitions_lists_its_places_in_its_own_shards_without_mutexes(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With partitions whose count divides `PLACE_SHARDS`, a place beyond the head's
    (`HEAD_PLACES`) is listed in the shard of its partition among 32, so each shard has one
    writer: the auditor that holds its partitions alone adds to it without the directory's
    mutex (the head's list of shards, shared, takes it)."""
    monkeypatch.setattr(directory, "HEAD_PLACES", 0)
    store = LockCounting(db)
    auditor = Auditor(db, RulesConfig(), store=store, own_places=True, partitions=16)
    web = key("sg-web")
    await auditor.handle(batch(0, snap("sg-web", SSH_WORLD)))
    world = range_id("ingress", parse_network("0.0.0.0/0"))
    account, region = place_of(web).split(":")[1:]
    shard = f"{world}#{partition_of(account, region, PLACE_SHARDS):02d}"
    assert shard == places_id(world, place_of(web))
    doc = await db[RANGES].find_one({"_id": shard})
    assert doc is not None and place_of(web) in doc["places"]
    hits, _ = await search_postings(
        db, parse_network("203.0.113.9"), "contains", "ingress", None, None, None, 100
    )
    assert [match_fields(*h)["group_id"] for h in hits] == ["sg-web"]
    if not store.conditional_writes:  # MongoDB adds atomically: no mutex at all
        assert f"{RANGES}:{world}" in store.locked
        assert all(not lock.startswith(f"{RANGES}:{world}#") for lock in store.locked)
