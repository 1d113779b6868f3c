"""Several leases of one holder renewed with one write (`renew_all`), and a lease lost
meanwhile found out and stepped down from, the others kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from pymongo import monitoring

from secmonkey.common import storage
from secmonkey.common.lease import Lease, renew_all
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database, Store

pytestmark = pytest.mark.integration
COLLECTION = "test_leases"


class Writes(monitoring.CommandListener):
    """Counts the write commands sent to one collection."""

    def __init__(self, collection: str) -> None:
        self.collection = collection
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in ("update", "insert", "delete") and event.command.get(name) == self.collection:
            self.commands.append(name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def _terms(db: Database) -> dict[str, dict[str, object]]:
    return {doc["_id"]: doc async for doc in db[COLLECTION].find({})}


@pytest_asyncio.fixture
async def counted(db: Database, mongo_url: str) -> AsyncIterator[tuple[Database, Writes]]:
    """The test's database through a client of its own whose writes to the leases are
    counted."""
    listener = Writes(COLLECTION)
    client = storage.connect(mongo_url, event_listeners=[listener])
    yield client[db.name], listener
    await client.close()


def _leases(db: Database, count: int) -> list[Lease]:
    return [Lease(db, f"partition:{p:03d}", "replica-a", 20.0, COLLECTION) for p in range(count)]


async def test_held_leases_are_renewed_with_one_write(
    db: Database, counted: tuple[Database, Writes]
) -> None:
    through, listener = counted
    leases = _leases(through, 5)
    for lease in leases:
        assert await lease.acquire()
    before = await _terms(db)
    listener.commands.clear()
    assert await renew_all(leases) == [True] * 5
    assert listener.commands == ["update"]
    after = await _terms(db)
    assert set(after) == set(before) and len(after) == 5
    for term, doc in after.items():
        assert doc["expires_at"] > before[term]["expires_at"]  # type: ignore[operator]
    assert all(lease.held for lease in leases)


async def test_a_lease_taken_over_is_stepped_down_from_and_the_others_kept(
    db: Database,
) -> None:
    leases = _leases(db, 3)
    for lease in leases:
        assert await lease.acquire()
    # Partition 1's term ended (its holder was paused) and another replica took it over.
    lost = leases[1]
    await db[COLLECTION].update_one(
        {"_id": lost.term_id}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}}
    )
    other = Lease(db, lost.name, "replica-b", 20.0, COLLECTION)
    assert await other.acquire()

    assert await renew_all(leases) == [True, False, True]
    assert [lease.held for lease in leases] == [True, False, True]
    assert other.held and await other.renew()
    latest = await lost.current()
    assert latest is not None and latest["holder"] == "replica-b"


async def test_a_lease_without_a_term_is_not_renewed_and_costs_no_write(
    db: Database, counted: tuple[Database, Writes]
) -> None:
    through, listener = counted
    leases = _leases(through, 3)
    assert await leases[0].acquire() and await leases[2].acquire()
    listener.commands.clear()
    assert await renew_all(leases) == [True, False, True]
    assert listener.commands == ["update"]
    assert await renew_all([leases[1]]) == [False]
    assert listener.commands == ["update"]
    assert await db[COLLECTION].count_documents({"lease": "partition:001"}) == 0


async def test_leases_of_several_holders_are_refused(db: Database) -> None:
    mixed = [
        Lease(db, "partition:000", "replica-a", 20.0, COLLECTION),
        Lease(db, "partition:001", "replica-b", 20.0, COLLECTION),
    ]
    with pytest.raises(ValueError, match="one holder"):
        await renew_all(mixed)


async def test_delete_small_deletes_exactly_the_ids_given(db: Database) -> None:
    store = Store(db)
    await db.test_small.insert_many([{"_id": f"e{n}"} for n in range(6)])
    assert await store.delete_small("test_small", ["e1", "e3", "e3", "missing"]) == 2
    assert await store.delete_small("test_small", []) == 0
    left = [d["_id"] async for d in db.test_small.find({})]
    assert sorted(left) == ["e0", "e2", "e4", "e5"]
