"""Every change through the API or the console is on the record (who, what, before/after,
when, from where), readable by admins only, exported as CSV, and raised as an `admin.*`
event that subscriptions route; a wide allowlist entry needs `force` and raises a high one."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest
from aio_pika import ExchangeType
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import QueueEmpty

from secmonkey.common.documents import Subscription, SubscriptionFilters
from secmonkey.common.event_feed import event_of
from secmonkey.common.messages import EVENTS_EXCHANGE, Event
from secmonkey.common.storage import Database
from secmonkey.common.subscriptions import matches
from secmonkey.notifier.channels import slack
from secmonkey.notifier.channels.base import Batch, Notice
from secmonkey.notifier.notices import headline
from tests.integration.web.inprocess import hidden
from tests.security.auth_harness import ADMIN_KEY, api, client, new_key

pytestmark = pytest.mark.integration
ACCOUNT = "432143214321"


async def _admin_events(rabbit: AbstractRobustConnection) -> Any:
    channel = await rabbit.channel()
    exchange = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="admin.#")
    return queue


async def _drain(queue: Any, wanted: int) -> list[Event]:
    got: list[Event] = []
    for _ in range(300):
        try:
            message = await queue.get(timeout=5)
        except QueueEmpty:
            if len(got) >= wanted:
                break
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        got.append(Event.model_validate(json.loads(message.body)))
    return got


async def test_admin_actions_are_in_the_audit_log(
    mongo_url: str,
    amqp_url: str,
    db: Database,
    db_name: str,
    rabbit: AbstractRobustConnection,
) -> None:
    queue = await _admin_events(rabbit)
    async with api(mongo_url, amqp_url, db_name) as app:
        async with client(app) as admin:
            key = (await admin.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})).json()
            account = {"id": ACCOUNT, "name": "shop", "external_id": "ext-secret-99"}
            assert (await admin.post("/api/v1/accounts", json=account)).status_code == 201
            await admin.put(f"/api/v1/accounts/{ACCOUNT}", json={"name": "shop-eu"})
            await admin.put("/api/v1/allowlist/office", json={"cidr": "198.51.100.0/24"})
            await admin.post(
                "/api/v1/subscriptions",
                json={"name": "soc", "channel": {"type": "email", "to": ["soc@example.com"]}},
            )
            await admin.post("/api/v1/sweeps", json={"account_id": ACCOUNT})
            await admin.patch(f"/api/v1/keys/{key['id']}", json={"enabled": False})
            await admin.delete(f"/api/v1/keys/{key['id']}")
        # and through the console: the same operations, the same record
        browser = client(app, None)
        form = await browser.get("/console/login")
        await browser.post(
            "/console/login", data={"key": ADMIN_KEY, "csrf": hidden(form.text, "csrf")}
        )
        page = await browser.get("/console/admin/allowlist")
        await browser.post(
            "/console/admin/allowlist",
            data={"csrf": hidden(page.text, "csrf"), "name": "lab", "cidr": "192.0.2.0/24"},
        )

        viewer = (await new_key(app, "viewer"))["key"]
        async with client(app) as admin:
            page_one = (await admin.get("/api/v1/audit-log", params={"limit": 5})).json()
            rest = await admin.get(
                "/api/v1/audit-log", params={"cursor": page_one["next_cursor"], "limit": 100}
            )
            exported = await admin.get("/api/v1/audit-log", params={"format": "csv"})
        async with client(app, viewer) as reader:
            assert (await reader.get("/api/v1/audit-log")).status_code == 403
        console_page = await browser.get("/console/admin/audit-log")
        await browser.aclose()

    entries = page_one["items"] + rest.json()["items"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_action.setdefault(entry["action"], []).append(entry)
    for action in (
        "key.created",
        "key.updated",
        "key.revoked",
        "account.created",
        "account.updated",
        "allowlist.updated",
        "subscription.created",
        "sweep.requested",
        "console.signed_in",
    ):
        assert action in by_action, (action, sorted(by_action))
    (updated,) = by_action["account.updated"]
    assert updated["before"]["name"] == "shop" and updated["after"]["name"] == "shop-eu"
    assert updated["actor"]["kind"] == "key" and updated["actor"]["name"] == "bootstrap"
    assert updated["client"] == "127.0.0.1" and updated["via"] == "api"
    assert "ext-secret-99" not in json.dumps(entries)
    assert any(
        e["via"] == "console" and e["target"] == "lab" for e in by_action["allowlist.updated"]
    )
    assert by_action["key.updated"][0]["after"]["enabled"] is False

    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv")
    assert {r["action"] for r in rows} >= set(by_action) and len(rows) == len(entries)
    assert "shop-eu" in console_page.text and "account.updated" in console_page.text

    # Each entry is an admin.* event in the feed and on RabbitMQ (through the outbox).
    feed = [event_of(d) for d in await db.events.find({"type": {"$regex": "^admin\\."}}).to_list()]
    assert len(feed) == len(entries)
    published = await _drain(queue, len(entries))
    assert {e.event_id for e in published} == {e.event_id for e in feed}
    # (the sweep request itself waits: no collector queue exists in this test)
    assert await db.api_outbox.count_documents({"routing_key": {"$regex": "^admin\\."}}) == 0


async def test_wide_allowlist_entry_refused_unless_forced(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app, client(app) as admin:
        for cidr in ("0.0.0.0/0", "10.0.0.0/7", "::/0", "2001:db8::/31"):
            refused = await admin.put("/api/v1/allowlist/everything", json={"cidr": cidr})
            assert refused.status_code == 422 and "force" in refused.json()["detail"], cidr
        assert await db.allowlist.count_documents({}) == 0
        for cidr in ("10.0.0.0/8", "2001:db8::/32"):  # the widest accepted unforced
            assert (await admin.put("/api/v1/allowlist/wide", json={"cidr": cidr})).is_success
        forced = await admin.post(
            "/api/v1/allowlist", json={"name": "anywhere", "cidr": "0.0.0.0/0", "force": True}
        )
        assert forced.status_code == 201, forced.text
        log = await admin.get("/api/v1/audit-log", params={"action": "allowlist.forced"})
    (entry,) = log.json()["items"]
    assert entry["severity"] == "high" and entry["target"] == "anywhere"
    event = event_of(
        await db.events.find_one({"type": "admin.allowlist.forced"}) or {}  # type: ignore[arg-type]
    )
    assert event.severity is not None and event.severity.value == "high"


def test_notifier_routes_and_renders_admin_events() -> None:
    from datetime import UTC, datetime

    from secmonkey.api.audit.trail import Actor, AuditEntry, admin_event
    from secmonkey.common.severity import Severity

    entry = AuditEntry(
        id="a1",
        at=datetime.now(UTC),
        action="allowlist.forced",
        target="anywhere",
        actor=Actor(kind="key", id="k1", name="bootstrap", role="admin"),
        client="203.0.113.7",
        severity=Severity.HIGH,
        detail="a forced wide allowlist entry anywhere (0.0.0.0/0) silences findings",
        event_id="e1",
    )
    event = admin_event(entry)
    siem = Subscription(
        id="s1",
        name="siem",
        filters=SubscriptionFilters(event_types=["admin.*"], min_severity=Severity.HIGH),
        channel={"type": "slack", "url": "https://hooks.slack.example.com/x"},  # type: ignore[arg-type]
    )
    changes_only = siem.model_copy(update={"filters": SubscriptionFilters(event_types=["group.*"])})
    assert matches(siem, event) and not matches(changes_only, event)
    assert headline(event).startswith("HIGH: allowlist forced: anywhere by key bootstrap")
    body = slack.build(siem, Batch("e1:s1", "event", [Notice.of(event, "https://sm")], "e1"))[0]
    assert "203.0.113.7" in body.decode() and "0.0.0.0/0" in body.decode()
