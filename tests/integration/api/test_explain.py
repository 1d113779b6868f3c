"""Every main read is an indexed query: the real queries the API sends, explained.

A command listener records the `find`/`aggregate` commands the API issues while it
answers each main search and lookup; each is then explained on the server. On MongoDB
the winning plan must not be a collection scan. FerretDB 1.24 over SQLite pushes only
`{_id: <string>}` filters down to SQLite (everything else is filtered in Go), so there
the test checks that `_id` lookups are pushed down and answered from an index (the one
deploy/local/mongo-compat adds: FerretDB's own is on another expression), and that every other filter leads
with the first key of an index declared in `secmonkey.common.storage.INDEXES`, which is
what MongoDB uses for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pymongo import monitoring

from secmonkey.common.storage import INDEXES, Database
from tests.integration.api import harness
from tests.support.estate import EAST, PROD, TIMES, WEB

pytestmark = pytest.mark.integration
READ_COLLECTIONS = (
    {"items", "revisions", "issues", "events", "accounts"}
    | {
        "rule_ranges",
        "rule_postings",
        "group_ids",
    }
    | {"issue_summaries"}
)
# One document per account-region, read whole by design (the report's counts and list).
WHOLE_READS = {"issue_summaries"}


class Recorder(monitoring.CommandListener):
    """Keeps the read commands sent to one database while `on` is set."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.on = False
        self.commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.on or event.database_name != self.database:
            return
        if event.command_name in ("find", "aggregate"):
            command = dict(event.command)
            if command.get(event.command_name) in READ_COLLECTIONS:
                with self._lock:
                    self.commands.append(command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest_asyncio.fixture(scope="module")
async def recorded(
    mongo_url: str, amqp_url: str, estate_db_name: str
) -> AsyncIterator[tuple[FastAPI, Recorder]]:
    recorder = Recorder(estate_db_name)
    monitoring.register(recorder)  # applies to clients created from now on: the app's
    async with harness.running(harness.settings_for(mongo_url, amqp_url, estate_db_name)) as app:
        yield app, recorder
    recorder.on = False


MAIN_READS = [
    ("/api/v1/search/ip", {"ip": "10.0.1.2"}),
    ("/api/v1/search/ip", {"ip": "2001:db8:abcd::1", "account_id": PROD}),
    ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "match": "contains"}),
    ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "match": "within"}),
    ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "match": "overlaps"}),
    ("/api/v1/search/cidr", {"cidr": "10.0.0.0/16", "match": "exact"}),
    ("/api/v1/groups/resolve", {"ids": f"{WEB},sg-0123456789abcdef0"}),
    (f"/api/v1/groups/{WEB}", {}),
    (f"/api/v1/groups/{WEB}/revisions", {}),
    (
        f"/api/v1/groups/{WEB}/at",
        {"time": TIMES[1].isoformat(), "account_id": PROD, "region": EAST},
    ),
    (f"/api/v1/groups/{WEB}/diff", {"from": "1", "to": "3"}),
    ("/api/v1/groups", {"account_id": PROD, "region": EAST}),
    ("/api/v1/issues", {"status": "open"}),
    ("/api/v1/issues", {"rule_id": "internet-all-ports", "status": "open"}),
    ("/api/v1/events", {"account_id": PROD}),
    ("/api/v1/events", {"type": "group.deleted"}),
    ("/api/v1/report", {"format": "json"}),
]


def _filters(command: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    if "find" in command:
        return dict(command.get("filter") or {}), list(dict(command.get("sort") or {}))
    stages = command["pipeline"]
    match = next((s["$match"] for s in stages if "$match" in s), {})
    return dict(match), []


def _served_by_declared_index(collection: str, query: dict[str, Any], sort: list[str]) -> bool:
    leading = {"_id"} | {next(iter(index.document["key"])) for index in INDEXES[collection]}
    if "$or" in query:
        rest = {k: v for k, v in query.items() if k != "$or"}
        if any(k in leading for k in rest):
            return True
        return all(_served_by_declared_index(collection, branch, sort) for branch in query["$or"])
    return any(field in leading for field in query) or (
        not query and bool(sort) and sort[0] in leading
    )


async def _explain(db: Database, command: dict[str, Any]) -> dict[str, Any]:
    name = "find" if "find" in command else "aggregate"
    body: dict[str, Any] = {name: command[name]}
    for field in ("filter", "sort", "limit", "projection", "pipeline"):
        if field in command:
            body[field] = command[field]
    if name == "aggregate":
        body["cursor"] = {}
    return await db.command("explain", body)


async def _sqlite_plan(db: Database, command: dict[str, Any]) -> str:
    """SQLite's plan for a find. EXPLAIN does not notice a schema change (a new index) on a
    connection that has not run a statement since, so the find itself runs first."""
    for _ in range(50):
        await db[command["find"]].find_one(command["filter"])
        plan = " ".join((await _explain(db, command))["queryPlanner"]["Plan"])
        if "USING INDEX" in plan:
            break
        await asyncio.sleep(0.1)
    return plan


def _id_lookup(value: Any) -> bool:
    """A string `_id`, or a list of them (`$in`: mongo-compat's patch pushes it down)."""
    if isinstance(value, str):
        return True
    return isinstance(value, dict) and set(value) == {"$in"} and bool(value["$in"])


def _plan_stages(plan: Any) -> set[str]:
    stages: set[str] = set()
    if isinstance(plan, dict):
        if "stage" in plan:
            stages.add(str(plan["stage"]))
        for value in plan.values():
            stages |= _plan_stages(value)
    elif isinstance(plan, list):
        for value in plan:
            stages |= _plan_stages(value)
    return stages


async def test_main_reads_are_indexed_queries(
    recorded: tuple[FastAPI, Recorder], keys: dict[str, str]
) -> None:
    app, recorder = recorded
    db: Database = app.state.runtime.db
    async with harness.client_for(app, keys["viewer"]) as api:
        for path, params in MAIN_READS:
            recorder.commands.clear()
            recorder.on = True
            response = await api.get(path, params=params)
            recorder.on = False
            assert response.status_code == 200, (path, response.text)
            assert recorder.commands, f"{path} sent no read to MongoDB?"
            for command in recorder.commands:
                collection = command.get("find") or command.get("aggregate")
                query, sort = _filters(command)
                if collection in WHOLE_READS and not query:
                    continue
                explained = await _explain(db, command)
                if "filterPushdown" in explained:  # FerretDB
                    if set(query) == {"_id"} and _id_lookup(query["_id"]):
                        assert explained["filterPushdown"] is True, (path, query)
                        # ...and served by the `_id` index deploy/local/mongo-compat adds
                        # (within about a second of a collection's creation).
                        plan = await _sqlite_plan(db, command)
                        assert "USING INDEX" in plan, (path, collection, plan)
                    assert _served_by_declared_index(str(collection), query, sort), (
                        f"{path}: {collection} filter {query} leads with no declared index"
                    )
                else:  # MongoDB
                    stages = _plan_stages(explained["queryPlanner"]["winningPlan"])
                    assert "COLLSCAN" not in stages, (path, collection, query, stages)


async def test_a_batch_of_ids_is_one_indexed_read_on_the_local_server(
    recorded: tuple[FastAPI, Recorder], keys: dict[str, str]
) -> None:
    """`/groups/resolve` of several IDs sends one `$in` on `_id`, which the local server
    (mongo-compat's patch to FerretDB) answers from the `_id` index."""
    app, recorder = recorded
    db: Database = app.state.runtime.db
    if not app.state.runtime.capabilities.indexed_id_lists:
        pytest.fail("the local server should be mongo-compat, detected as indexed_id_lists")
    async with harness.client_for(app, keys["viewer"]) as api:
        recorder.commands.clear()
        recorder.on = True
        ids = f"{WEB},sg-0123456789abcdef0,sg-0123456789abcdef1"
        response = await api.get("/api/v1/groups/resolve", params={"ids": ids})
        recorder.on = False
    assert response.status_code == 200, response.text
    assert [c["find"] for c in recorder.commands] == ["group_ids"]
    (command,) = recorder.commands
    assert set(command["filter"]["_id"]["$in"]) == set(ids.split(","))
    explained = await _explain(db, command)
    if "filterPushdown" in explained:  # FerretDB (mongo-compat)
        assert explained["filterPushdown"] is True
        assert "USING INDEX" in await _sqlite_plan(db, command)
    else:
        stages = _plan_stages(explained["queryPlanner"]["winningPlan"])
        assert "COLLSCAN" not in stages, stages
