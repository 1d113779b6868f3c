"""The storage seam on the real server: indexes, detection, reads, guarded writes, claims."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from secmonkey.common import storage
from secmonkey.common.runtime import Runtime
from secmonkey.common.settings import CommonSettings
from secmonkey.common.storage import Database

pytestmark = pytest.mark.integration


async def test_indexes_are_created_idempotently(db: Database) -> None:
    await storage.ensure_indexes(db)  # second time: no error
    info = await db.revisions.index_information()
    keys = {tuple(k for k, _ in v["key"]): v.get("unique", False) for v in info.values()}
    assert keys[("key", "seq")] is True
    assert keys[("key", "fingerprint", "observed_at")] is True
    events = await db.events.index_information()
    assert any(v.get("unique") and v["key"] == [("event_id", 1)] for v in events.values())


async def test_indexes_that_serve_no_query_on_the_backend_are_not_made(
    db: Database, mongo_url: str
) -> None:
    """FerretDB 1.24 filters everything but `_id` in Go: only the unique indexes (claims) are
    made there; a backend that serves filters from indexes is given every declared one."""
    caps = storage.capabilities_of(db.client)
    assert not caps.indexed_filters  # the test server is FerretDB
    await db.items.insert_one({"_id": "aws:1:r:sg-1"})
    await db.revisions.insert_one({"_id": "aws:1:r:sg-1:1", "key": "aws:1:r:sg-1", "seq": 1})
    items = await db.items.index_information()
    assert "_id_" in items
    assert not {"group_id_1", "name_lower_1", "ranges.lo_1"} & set(items)
    revisions = await db.revisions.index_information()
    assert {"key_1_seq_1", "key_1_fingerprint_1_observed_at_1"} <= set(revisions)
    assert "key_1_observed_at_1" not in revisions
    forced = storage.connect(mongo_url)
    try:
        await storage.detect(forced, storage.Capabilities.mongodb())
        wanted = await storage.wanted_indexes(forced[db.name])
        assert wanted == storage.INDEXES
    finally:
        await forced.close()


async def test_duplicate_key_on_a_unique_index_is_refused(db: Database) -> None:
    await db.revisions.insert_one(
        {"key": "aws:1:r:sg-1", "seq": 1, "fingerprint": "a", "observed_at": 1}
    )
    with pytest.raises(DuplicateKeyError):
        await db.revisions.insert_one(
            {"key": "aws:1:r:sg-1", "seq": 1, "fingerprint": "b", "observed_at": 2}
        )
    assert await db.revisions.count_documents({}) == 1


async def test_retry_gives_up_only_when_told(db: Database) -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise AutoReconnect("blip")
        return calls

    assert await storage.with_retry(flaky, what="test", base_delay=0.01) == 3


async def test_retry_stops_at_once_on_an_error_waiting_cannot_fix(db: Database) -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise OperationFailure("unknown operator: $nope", code=2)

    with pytest.raises(OperationFailure):
        await storage.with_retry(broken, what="test", base_delay=0.01)
    assert calls == 1


async def test_the_local_server_is_detected_once_and_remembered(db: Database) -> None:
    caps = await storage.detect(db.client)
    assert caps.backend in ("ferretdb", "mongodb")
    assert storage.capabilities_of(db.client) is caps
    # FerretDB here: no conditional writes, so services must not rely on guards.
    assert caps.conditional_writes == (caps.backend == "mongodb")


async def test_store_reads_many_by_id_and_reports_duplicates(db: Database) -> None:
    caps = storage.capabilities_of(db.client)
    for forced in (caps, caps.with_(indexed_filters=True, large_bulk_writes=True)):
        store = storage.Store(db, forced)
        name = f"c_{forced.indexed_filters}"
        refused = await store.insert(name, [{"_id": "a", "n": 1}, {"_id": "b", "n": 2}])
        assert refused == set()
        again = await store.insert(name, [{"_id": "c", "n": 3}, {"_id": "a", "n": 9}])
        assert again == {1}
        found = await store.read(name, ["a", "c", "missing", "a"])
        assert {k: v["n"] for k, v in found.items()} == {"a": 1, "c": 3}


async def test_guards_apply_only_where_writes_are_conditional(db: Database) -> None:
    caps = storage.capabilities_of(db.client)
    await db.things.insert_one({"_id": "x", "seq": 2, "n": 0})
    stale = storage.Update("x", {"$inc": {"n": 1}}, guard={"seq": 1})
    guarded = storage.Store(db, caps.with_(conditional_writes=True))
    assert await guarded.write("things", [stale]) == 0
    unguarded = storage.Store(db, caps.with_(conditional_writes=False))
    assert await unguarded.write("things", [stale]) == 1
    doc = await db.things.find_one({"_id": "x"})
    assert doc is not None and doc["n"] == 1


async def test_a_claim_is_won_once(db: Database) -> None:
    assert await storage.insert_unique(db.claims, {"_id": "job@1", "by": "a"}) is True
    assert await storage.insert_unique(db.claims, {"_id": "job@1", "by": "b"}) is False
    doc = await db.claims.find_one({"_id": "job@1"})
    assert doc is not None and doc["by"] == "a"


async def test_capabilities_set_in_settings_win_over_detection(mongo_url: str) -> None:
    settings = CommonSettings(
        mongo_url=mongo_url,
        mongo_db=f"test_{uuid.uuid4().hex[:12]}",
        storage_capabilities="indexed_filters,large_bulk_writes",
    )
    runtime = await Runtime.open(settings, rabbit=False, indexes=False)
    try:
        assert runtime.capabilities == storage.Capabilities(False, True, False, True)
        assert storage.Store(runtime.db).capabilities == runtime.capabilities
    finally:
        await runtime.client.drop_database(settings.mongo_db)
        await runtime.close()


async def test_readiness_reports_a_consumer_waiting_out_a_fault(mongo_url: str) -> None:
    settings = CommonSettings(mongo_url=mongo_url, mongo_db=f"test_{uuid.uuid4().hex[:12]}")
    runtime = await Runtime.open(settings, rabbit=False, indexes=False)
    try:
        waiting = SimpleNamespace(spec=SimpleNamespace(name="auditor.snapshots"), trouble=None)
        runtime.consumers.append(waiting)  # type: ignore[arg-type]
        assert (await runtime.readiness())["consumer auditor.snapshots"] == "ok"
        waiting.trouble = "retrying a message of auditor.snapshots: connection refused"
        checks = await runtime.readiness()
        assert checks["consumer auditor.snapshots"].startswith("error: retrying")
    finally:
        await runtime.close()
