"""A process that holds its account-regions alone (partitions) keeps their rosters and
knows which have no deletion hold between messages, where writes are not conditional (one
message at a time per account-region); a failed message, or a partition taken, makes it
read them again. Real server; the finds counted by a PyMongo listener."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import storage
from secmonkey.common.errors import TransientError
from secmonkey.common.storage import Database, Document, Store
from tests.integration.auditor.kit import batch, completed, ingress, key, snap
from tests.integration.finds import Finds

pytestmark = pytest.mark.integration

SSH = ingress(22, "10.0.0.0/8")


class FailingOnce(Store):
    """The real store, whose first insert of revisions after `arm()` fails after landing."""

    armed = False

    def arm(self) -> None:
        self.armed = True

    async def insert(self, collection: str, docs: Sequence[Document]) -> set[int]:
        refused = await super().insert(collection, docs)
        if self.armed and collection == "revisions" and docs:
            self.armed = False
            raise TransientError("the answer was lost")
        return refused


@pytest_asyncio.fixture
async def counted(db: Database, mongo_url: str) -> AsyncIterator[tuple[Database, Finds]]:
    finds = Finds()
    client = storage.connect(mongo_url, event_listeners=[finds])
    await storage.detect(client)
    yield client[db.name], finds
    await client.close()


async def test_rosters_and_holds_are_read_once_then_again_after_a_failure(
    counted: tuple[Database, Finds],
) -> None:
    db, finds = counted
    store = FailingOnce(db)
    auditor = Auditor(db, RulesConfig(), store=store, own_places=True)
    kept = not store.conditional_writes  # MongoDB: each message reads them

    await auditor.handle(batch(0, snap("sg-a", SSH)))
    await auditor.handle(completed(10, ["sg-a"], started=0))
    assert finds.of("deletion_holds") == 1

    finds.finds.clear()
    await auditor.handle(batch(60, snap("sg-a", SSH), sweep="sweep-2"))  # unchanged
    await auditor.handle(batch(60, snap("sg-b", SSH), sweep="sweep-2"))  # new
    await auditor.handle(completed(70, ["sg-a", "sg-b"], started=60, sweep="sweep-2"))
    # (the summary recounted after the new group reads the roster's ids once: not kept)
    assert finds.of("place_rosters") == (1 if kept else 4)
    assert finds.of("deletion_holds") == (0 if kept else 1)
    a, b = (
        await db.items.find_one({"_id": key("sg-a")}),
        await db.items.find_one({"_id": key("sg-b")}),
    )
    assert a is not None and a["seq"] == 1 and b is not None and b["seq"] == 1

    # A change whose revision landed but whose answer was lost: the message fails and
    # the next one reads the roster again, and decides as the stored state says.
    store.arm()
    with pytest.raises(TransientError):
        await auditor.handle(batch(120, snap("sg-a", ingress(22, "0.0.0.0/0")), sweep="s3"))
    finds.finds.clear()
    await auditor.handle(batch(120, snap("sg-a", ingress(22, "0.0.0.0/0")), sweep="s3"))
    assert finds.of("place_rosters") == 2  # the message's and the summary's
    item = await db.items.find_one({"_id": key("sg-a")})
    assert item is not None and item["seq"] == 2
    assert item["config"]["rules"][0]["source"] == "0.0.0.0/0"

    # Taking a partition forgets what is kept.
    auditor.partition_taken()
    finds.finds.clear()
    await auditor.handle(completed(130, ["sg-a", "sg-b"], started=120, sweep="s3"))
    # (the message's roster read, and the summary's: recounts are forgotten too)
    assert (finds.of("place_rosters"), finds.of("deletion_holds")) == (2, 1)
