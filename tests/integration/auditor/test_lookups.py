"""The search lookups the auditor files (rule postings, group IDs) follow every change.

They are what `/search/ip`, `/search/cidr` (contains, exact) and `/groups/resolve` read,
so a missing entry would hide a rule that lets an address in, and a stale one would show
a rule that no longer exists.
"""

from __future__ import annotations

from typing import Any

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.config import RulesConfig
from secmonkey.common.cidr import parse_network
from secmonkey.common.mongo import Database
from secmonkey.common.postings import (
    BUILT_ID,
    LENGTHS_ID,
    POSTINGS,
    RANGES,
    Entry,
    lines_of,
    place_of,
    posting_id,
    range_id,
)
from tests.integration.auditor.kit import batch, completed, ingress, key, snap, snapshot

pytestmark = pytest.mark.integration

SSH_WORLD = ingress(22, "0.0.0.0/0")
HTTPS_CORP = ingress(443, "10.20.0.0/16", description="corp")
HTTPS_V6 = ingress(443, "2001:db8:5::/48")
EGRESS_ALL = ingress(None, "0.0.0.0/0", protocol="-1", direction="egress")


async def entries(db: Database, direction: str, cidr: str, group_key: str) -> list[Entry]:
    """The entries filed under one range for one item."""
    rid = range_id(direction, parse_network(cidr))
    doc = await db[POSTINGS].find_one({"_id": posting_id(rid, place_of(group_key))})
    found = [Entry.decode(line, direction, place_of(group_key)) for line in lines_of(doc)]
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
    head = await db[RANGES].find_one({"_id": range_id("ingress", parse_network("10.20.0.0/16"))})
    assert head is not None and head["places"] == [place_of(web)]
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
        return {d["_id"]: d["e"] for d in docs if d["e"]}  # (and not its version)

    assert filed(restored["rule_postings"]) == filed(expected["rule_postings"])
    assert len(filed(restored["rule_postings"])) == 2
    assert restored["group_ids"] == expected["group_ids"]
    assert {d["_id"] for d in restored["rule_ranges"]} >= {
        range_id("ingress", parse_network("0.0.0.0/0")),
        range_id("ingress", parse_network("2001:db8:5::/48")),
    }
    assert await auditor.ensure_lookups() == 0  # marked as done
