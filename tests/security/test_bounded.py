"""Bounded queries: no viewer request makes the API hold or walk the whole estate, and no
database operation runs without a server-side time limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import monitoring
from pymongo.errors import ExecutionTimeout

from secmonkey.common import storage
from tests.integration.api import harness

pytestmark = pytest.mark.integration


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture(scope="module")
async def small_scan_app(mongo_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    """The API on the estate, a search examining at most 2 groups per page."""
    name = await harness.fresh_estate(mongo_url)
    settings = harness.settings_for(mongo_url, amqp_url, name, search_scan_limit=2)
    async with harness.running(settings) as app:
        yield app
    await harness.drop(mongo_url, name)


async def test_every_query_carries_a_server_side_time_limit(mongo_url: str) -> None:
    commands = Commands()
    client = storage.connect(mongo_url, operation_timeout_seconds=20, event_listeners=[commands])
    db = client[f"test_{uuid.uuid4().hex[:10]}"]
    try:
        await db.items.insert_many([{"_id": f"k{i}", "n": i} for i in range(250)])
        assert len(await db.items.find({}).batch_size(100).to_list()) == 250  # find + getMores
        await db.items.count_documents({"n": {"$gte": 10}})
        await (await db.items.aggregate([{"$match": {"n": 1}}])).to_list()
        await db.items.update_one({"_id": "k1"}, {"$set": {"n": -1}})
    finally:
        await client.drop_database(db.name)
        await client.close()
    names = [next(iter(c)) for c in commands.sent]
    assert {"insert", "find", "getMore", "aggregate", "update"} <= set(names)
    # Every command that starts work carries the limit; a find's getMores run under the
    # find's own (the server counts a cursor's time across its batches).
    work = {"insert", "find", "aggregate", "update", "delete", "count"}
    starting = [c for c in commands.sent if next(iter(c)) in work]
    assert all(0 < c.get("maxTimeMS", 0) <= 20_000 for c in starting), starting


async def test_the_api_connects_with_a_query_time_limit(small_scan_app: FastAPI) -> None:
    assert small_scan_app.state.runtime.client.options.timeout == 60.0


async def test_database_stops_a_query_past_its_time_limit(mongo_url: str) -> None:
    """The server enforces `maxTimeMS` (FerretDB 1.24 does, as MongoDB): error 50. (Without
    the client's own deadline here, which would otherwise set the limit itself.)"""
    client = storage.connect(mongo_url, operation_timeout_seconds=None)
    db = client[f"test_{uuid.uuid4().hex[:10]}"]
    try:
        await db.items.insert_many([{"s": "x" * 100, "i": i} for i in range(20_000)])
        with pytest.raises(ExecutionTimeout):
            await db.items.find({"s": {"$regex": "y$"}}).max_time_ms(1).to_list()
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_cidr_within_the_whole_internet_is_paginated_with_a_cost_bound(
    small_scan_app: FastAPI,
) -> None:
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    async with harness.client_for(small_scan_app) as admin:
        while True:
            params = {"cidr": "::/0", "match": "within", "limit": 10_000}
            answer = await admin.get(
                "/api/v1/search/cidr", params=params | ({"cursor": cursor} if cursor else {})
            )
            assert answer.status_code == 200, answer.text
            page = answer.json()
            pages += 1
            assert page["scanned"] <= 2
            seen += [f"{r['key']}#{r['rule']['index']}" for r in page["results"]]
            cursor = page["next_cursor"]
            if cursor is None:
                assert page["partial"] is False
                break
            assert page["partial"] is True or len(page["results"]) > 0
        v4 = await admin.get("/api/v1/search/cidr", params={"cidr": "0.0.0.0/0", "match": "within"})
    assert pages >= 2, "the walk was cut into pages"
    assert len(seen) == len(set(seen)) and seen, "each rule once across the pages"
    assert v4.json()["partial"] is True and v4.json()["next_cursor"]


async def test_report_with_limit_100000_is_streamed_not_built(small_scan_app: FastAPI) -> None:
    async with harness.client_for(small_scan_app) as admin:
        for fmt in ("json", "html", "csv"):
            async with admin.stream(
                "GET", "/api/v1/report", params={"format": fmt, "limit": 100_000}
            ) as answer:
                assert answer.status_code == 200
                assert "content-length" not in answer.headers, "sent as it is produced"
                body = b"".join([chunk async for chunk in answer.aiter_raw()])
            if fmt == "json":
                report = json.loads(body)
                assert report["open_issues"] == len(report["issues"]) > 0
                assert report["truncated"] is False
        too_many = await admin.get("/api/v1/report", params={"limit": 100_001})
        assert too_many.status_code == 422


async def test_page_sizes_are_capped(small_scan_app: FastAPI) -> None:
    async with harness.client_for(small_scan_app) as admin:
        for path in ("/api/v1/groups", "/api/v1/issues", "/api/v1/events"):
            assert (await admin.get(path, params={"limit": 100_000})).status_code == 422, path
        search = await admin.get("/api/v1/search/ip", params={"ip": "10.0.0.1", "limit": 1_000_000})
        assert search.status_code == 422
