"""Each account-region's latest topology: a sole holder writes it only when its content
changes, and never lets an older one replace a newer."""

from __future__ import annotations

from datetime import timedelta

from secmonkey.auditor.exposure.store import Topologies, topology_id
from secmonkey.common.dates import aware
from secmonkey.common.storage import Database
from tests.unit.auditor.exposure.estate import topology


async def stored_at(db: Database) -> object:
    doc = await db.topologies.find_one({"_id": topology_id("111111111111", "us-east-1")})
    return None if doc is None else aware(doc["observed_at"])


async def test_a_sole_holder_writes_a_topology_only_when_it_changes(db: Database) -> None:
    first = topology()
    later = first.model_copy(update={"observed_at": first.observed_at + timedelta(minutes=5)})
    changed = topology(public_route=False).model_copy(
        update={"observed_at": first.observed_at + timedelta(minutes=10)}
    )
    older = changed.model_copy(update={"observed_at": first.observed_at + timedelta(minutes=7)})
    mine = Topologies(db, own_places=True)

    assert await mine.save(first)
    assert not await mine.save(later)  # the same content: nothing written
    assert await stored_at(db) == first.observed_at
    index = await mine.latest("111111111111", "us-east-1")
    assert index is not None and index.topology.digest() == first.digest()

    assert await mine.save(changed)
    assert await stored_at(db) == changed.observed_at
    assert not await mine.save(older)  # older than what this holder has seen
    assert not await mine.save(later)

    # A reader without the holder's memory (a replica taking the partition) reads it.
    other = Topologies(db)
    index = await other.latest("111111111111", "us-east-1")
    assert index is not None and index.topology.digest() == changed.digest()
    assert not await other.save(older)
