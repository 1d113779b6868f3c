"""Several account-regions' messages applied in one pass store what each would alone, in
fewer commands, and a bad message among them fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pymongo import monitoring

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import issue_counters, place_rosters, storage
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import SnapshotBatch
from secmonkey.common.storage import Database, Store
from tests.integration.auditor.kit import REGION, batch, ingress, key, snap
from tests.unit.auditor.exposure.estate import topology

pytestmark = pytest.mark.integration

ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444"]
OPEN_SSH = ingress(22, "0.0.0.0/0")
INTERNAL = ingress(443, "10.0.0.0/8")


def estate(seconds: float, account: str, sweep: str = "sweep-1") -> SnapshotBatch:
    """Two groups and the account-region's topology (in which nothing is reachable)."""
    message = batch(
        seconds,
        snap("sg-open", OPEN_SSH, account=account),
        snap("sg-quiet", INTERNAL, account=account),
        sweep=sweep,
        account=account,
    )
    network = topology().model_copy(
        update={"account_id": account, "region": REGION, "observed_at": message.observed_at}
    )
    return message.model_copy(update={"topology": network})


class Commands(monitoring.CommandListener):
    """The commands a client sends, as (command, collection)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, str(event.command.get(event.command_name))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def of(self, command: str, collection: str) -> int:
        return self.sent.count((command, collection))


@pytest_asyncio.fixture
async def counted(db: Database, mongo_url: str) -> AsyncIterator[tuple[Database, Commands]]:
    commands = Commands()
    client = storage.connect(mongo_url, event_listeners=[commands])
    await storage.detect(client)
    yield client[db.name], commands
    await client.close()


async def together(auditor: Auditor, messages: list[SnapshotBatch]) -> list[object]:
    """Hand the messages over at once while a first one holds the only slot, so that the
    others wait and go in one pass."""
    first, *rest = messages
    started = asyncio.ensure_future(auditor.handle(first))
    await asyncio.sleep(0)
    results = await asyncio.gather(*(auditor.handle(m) for m in rest), return_exceptions=True)
    return [await started, *results]


async def test_a_pass_stores_each_account_region_as_alone_in_fewer_commands(
    counted: tuple[Database, Commands],
) -> None:
    db, commands = counted
    auditor = Auditor(db, RulesConfig(), message_concurrency=1, own_places=True)
    first = [estate(0, a) for a in ACCOUNTS]
    results = await together(auditor, first)
    assert auditor.passes.sizes == [1, 3]
    assert commands.of("find", "items") == 0  # nothing read back for the summaries
    # One command per step and pass, whatever the number of account-regions in it.
    for step in [
        ("insert", "revisions"),
        ("insert", "items"),
        ("insert", "events"),
        ("update", "place_rosters"),  # entered, then known
        ("update", "topologies"),
        ("insert", "exposure_state"),
        ("update", "issue_summaries"),  # from what the pass inserted: no recount
    ]:
        per_pass = 2 if step == ("update", "place_rosters") else 1
        assert commands.of(*step) == 2 * per_pass, step
    for account, events in zip(ACCOUNTS, results, strict=True):
        assert isinstance(events, list)
        assert {e.account_id for e in events} == {account}  # each message its own events
        assert sorted(e.type for e in events if e.type.startswith("group.")) == [
            "group.created",
            "group.created",
        ]
        assert any(e.type == "issue.opened" and e.group_id == "sg-open" for e in events)
    for account in ACCOUNTS:
        item = await db.items.find_one({"_id": key("sg-open", account)})
        assert item is not None and item["seq"] == 1 and item["open_issues"] >= 1
        revs = await db.revisions.count_documents({"key": key("sg-quiet", account)})
        assert revs == 1
        roster = (await place_rosters.entries(Store(db), [(account, REGION)]))[(account, REGION)]
        assert sorted(roster) == ["sg-open", "sg-quiet"]
        assert all(isinstance(v, str) for v in roster.values())  # committed states known
        stored = await db.topologies.find_one({"_id": f"aws:{account}:{REGION}"})
        assert stored is not None and stored["account_id"] == account
        assert await db.exposure_state.count_documents({"account_id": account}) == 2
        # Stored from what the pass inserted (a first sight): as a recount finds it.
        summary = await db.issue_summaries.find_one({"_id": f"{account}:{REGION}"})
        rows = await db.issue_rows.find_one({"_id": f"{account}:{REGION}"})
        alone = await issue_counters.summarise(db, account, REGION)
        recounted = await db.issue_rows.find_one({"_id": f"{account}:{REGION}"})
        assert summary is not None and summary["open_issues"] == alone["open_issues"] >= 1
        for field in ("rules", "groups_with_open", "groups_by_severity", "shape"):
            assert summary[field] == alone[field], field
        assert [d["_id"] for d in summary["top"]] == [d["_id"] for d in alone["top"]]
        assert rows is not None and recounted is not None and rows["lines"] == recounted["lines"]

    # Seen again, unchanged: three account-regions' hot path in one write.
    commands.sent.clear()
    again = await together(auditor, [estate(60, a, "sweep-2") for a in ACCOUNTS])
    assert again == [[], [], [], []]
    assert auditor.passes.sizes[-2:] == [1, 3]
    assert commands.of("update", "items") == 2  # one per pass
    for account in ACCOUNTS:
        item = await db.items.find_one({"_id": key("sg-quiet", account)})
        assert item is not None and item["seq"] == 1
        assert item["last_seen"].replace(tzinfo=None) > item["first_seen"].replace(tzinfo=None)


async def test_a_bad_message_fails_alone_and_its_companions_are_stored(db: Database) -> None:
    auditor = Auditor(db, RulesConfig(), message_concurrency=1)
    good = [estate(0, a) for a in ACCOUNTS]
    forged = snap("sg-forged", OPEN_SSH, account=ACCOUNTS[2])
    forged = forged.model_copy(update={"fingerprint": "0" * 64})  # not its configuration
    good[2] = batch(0, forged, account=ACCOUNTS[2])
    results = await together(auditor, good)
    assert isinstance(results[2], InvalidInput)
    assert auditor.passes.sizes[:2] == [1, 3]  # the pass of three, redone one at a time
    for account, events in zip(ACCOUNTS, results, strict=True):
        if account == ACCOUNTS[2]:
            continue
        assert isinstance(events, list) and {e.account_id for e in events} == {account}
        assert await db.items.count_documents({"account_id": account}) == 2
    assert await db.items.find_one({"_id": key("sg-forged", ACCOUNTS[2])}) is None
