"""A rolling upgrade dead-letters nothing: the notifier reads events of the previous, its own
and the next schema version, routes types it does not know by their type, and a `system.*`
subscription hears secmonkey's own health."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from secmonkey.common.documents import Channel
from secmonkey.common.messages import EVENTS_EXCHANGE, SCHEMA_VERSION
from tests.integration.notifier.conftest import make_event, subscription, until
from tests.support.servers import HttpReceiver

pytestmark = pytest.mark.integration


def as_version(doc: dict[str, Any], version: int, **changes: Any) -> bytes:
    return json.dumps({**doc, "schema_version": version, **changes}).encode()


async def test_previous_and_next_versions_are_delivered_and_nothing_is_dead_lettered(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    everything = subscription(Channel(type="generic", url=f"{http_receiver.url}/all", secret="a"))
    ops = subscription(
        Channel(type="generic", url=f"{http_receiver.url}/ops", secret="o"),
        event_types=["system.*"],
    )
    base = json.loads(make_event("group.changed", None, changes=["tag a: 1 → 2"]).model_dump_json())
    ids = {name: uuid.uuid4().hex for name in ("old", "new", "newer", "system")}
    bodies = {
        # From a producer of the previous build (version 1).
        "old": as_version(base, SCHEMA_VERSION - 1, event_id=ids["old"]),
        "new": as_version(base, SCHEMA_VERSION, event_id=ids["new"]),
        # From the next build: a field and a type this build does not know.
        "newer": as_version(
            {k: v for k, v in base.items() if k not in ("group_id", "name")},
            SCHEMA_VERSION + 1,
            event_id=ids["newer"],
            type="change.reviewed",
            key="change:42",
            reviewer="alice",
        ),
        "system": as_version(
            {k: v for k, v in base.items() if k not in ("group_id", "name", "region")},
            SCHEMA_VERSION,
            event_id=ids["system"],
            type="system.consumer_not_ready",
            key="system:consumer:auditor.snapshots",
            account_id=None,
            system={
                "subject": "consumers of auditor.snapshots",
                "detail": "auditor-7: retrying a message of auditor.snapshots: MongoDB unreachable",
                "severity": "high",
                "since": "2026-03-01T12:00:00Z",
            },
        ),
    }
    async with start_notifier([everything, ops]) as h:
        for name, body in bodies.items():
            kind = json.loads(body)["type"]
            await h.publisher.publish(
                EVENTS_EXCHANGE, f"{kind}.{h.unique}", body, message_id=ids[name]
            )

        def got(path: str) -> dict[str, Any]:
            return {r.json()["id"]: r.json() for r in http_receiver.received if r.path == path}

        assert await until(lambda: len(got("/all")) == 4 and len(got("/ops")) == 1)
        channel = await h.rabbit.channel()
        dead = await (await channel.get_queue(h.notifier.spec.dead_letter_queue)).get(
            no_ack=True, fail=False
        )
        await channel.close()
    assert dead is None
    assert set(got("/all")) == set(ids.values())
    system = got("/ops")[ids["system"]]
    assert system["type"] == "io.secmonkey.system.consumer_not_ready"
    assert system["data"]["summary"] == "HIGH: consumer not ready: consumers of auditor.snapshots"
    assert got("/all")[ids["newer"]]["type"] == "io.secmonkey.change.reviewed"
