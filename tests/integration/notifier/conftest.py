"""A notifier running against the real RabbitMQ and MongoDB-protocol server, on a unique queue.

Events are published on `secmonkey.events` with the routing key `<type>.<unique>` and the
test queue is bound to `#.<unique>` only, so other engineers' events never reach it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.documents import Account, Channel, Subscription, SubscriptionFilters
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, IssueRef
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database
from secmonkey.notifier.service import Notifier, undelivered_queue
from secmonkey.notifier.settings import Settings
from tests.support.servers import HttpReceiver

ACCOUNT = "123456789012"


async def until(predicate: Callable[[], Any], timeout: float = 20.0, step: float = 0.05) -> Any:
    """Poll `predicate` without blocking the event loop the notifier runs on."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(step)


def make_event(
    type_: str = "issue.opened",
    severity: Severity | None = Severity.HIGH,
    *,
    account_id: str = ACCOUNT,
    region: str = "us-east-1",
    group_id: str = "sg-0abc1234",
    name: str = "web-sg",
    message: str = "tcp/22 opened to 0.0.0.0/0",
    rule_id: str = "internet-admin-port",
    **extra: Any,
) -> Event:
    issue = None
    if type_.startswith("issue.") and severity is not None:
        issue = IssueRef(
            issue_id=uuid.uuid4().hex,
            rule_id=rule_id,
            severity=severity,
            message=message,
            rule_text="ingress tcp/22 from 0.0.0.0/0",
            compliance=["CIS 5.2", "PCI 1.3.1"],
            status="fixed" if type_ == "issue.fixed" else "open",
        )
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4().hex,
        "type": type_,
        "key": f"aws:{account_id}:{region}:{group_id}",
        "account_id": account_id,
        "account_name": "prod",
        "region": region,
        "vpc_id": "vpc-0123abcd",
        "group_id": group_id,
        "name": name,
        "at": datetime.now(UTC),
        "seq": 2,
        "issue": issue,
    }
    fields.update(extra)
    return Event(**fields)


def subscription(
    channel: Channel,
    *,
    mode: str = "immediate",
    name: str | None = None,
    **filters: Any,
) -> Subscription:
    return Subscription(
        id=uuid.uuid4().hex[:12],
        name=name or f"sub-{channel.type}",
        filters=SubscriptionFilters(**filters),
        channel=channel,
        mode=mode,  # type: ignore[arg-type]
    )


@dataclass
class Harness:
    db: Database
    rabbit: AbstractRobustConnection
    publisher: amqp.Publisher
    notifier: Notifier
    unique: str

    async def publish(self, *events: Event) -> None:
        await self.publisher.publish_many(
            EVENTS_EXCHANGE, [(f"{e.type}.{self.unique}", e, e.event_id) for e in events]
        )

    async def deliveries(self, **query: Any) -> list[dict[str, Any]]:
        return [d async for d in self.db.deliveries.find(query)]

    async def undelivered(self, timeout: float = 10.0) -> list[Any]:
        """Messages on the notifier's dead-letter queue for deliveries that finally failed."""
        channel = await self.rabbit.channel()
        queue = await channel.get_queue(undelivered_queue(self.notifier.spec))
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                if got:
                    break
                await asyncio.sleep(0.1)
                continue
            got.append(message)
        await channel.close()
        return got


def notifier_settings(db: Database, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "mongo_db": db.name,
        "webhook_allow_http": True,
        "webhook_allow_private": True,
        "webhook_timeout": 2.0,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        "retry_base_seconds": 0.1,
        "retry_max_seconds": 0.4,
        "retry_poll_seconds": 0.05,
        "digest_flush_seconds": 0.1,
        "subscription_cache_seconds": 0,
        "public_url": "https://secmonkey.example.com",
    }
    values.update(overrides)
    return Settings(**values)


Starter = Callable[..., Any]


@pytest_asyncio.fixture
async def start_notifier(
    db: Database, rabbit: AbstractRobustConnection, unique: str
) -> AsyncIterator[Starter]:
    """`async with start_notifier(subscriptions=[...], accounts=[...], **settings) as harness`."""
    publisher = await amqp.Publisher.open(rabbit)
    specs: list[amqp.QueueSpec] = []

    @asynccontextmanager
    async def start(
        subscriptions: list[Subscription] = (),  # type: ignore[assignment]
        accounts: list[Account] = (),  # type: ignore[assignment]
        **overrides: Any,
    ) -> AsyncIterator[Harness]:
        for sub in subscriptions:
            await db.subscriptions.insert_one(sub.to_mongo())
        for account in accounts:
            await db.accounts.insert_one(account.to_mongo())
        spec = amqp.QueueSpec(f"test.notifier.{unique}", EVENTS_EXCHANGE, (f"#.{unique}",))
        specs.append(spec)
        notifier = Notifier(notifier_settings(db, **overrides), db, rabbit, publisher, spec=spec)
        await notifier.start()
        try:
            yield Harness(db, rabbit, publisher, notifier, unique)
        finally:
            await notifier.stop()

    yield start
    await publisher.close()
    channel = await rabbit.channel()
    for spec in specs:
        for name in (spec.name, spec.dead_letter_queue, undelivered_queue(spec)):
            await channel.queue_delete(name)
    await channel.close()


def reopen_on(receiver: HttpReceiver, port: int) -> None:
    """Serve `receiver` again on `port` (after `take_down`), as an endpoint coming back."""
    handler = receiver._server.RequestHandlerClass
    receiver._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    receiver.start()


def take_down(receiver: HttpReceiver) -> int:
    """Close a not-yet-started receiver's socket: its port refuses connections until reopened."""
    port = receiver.port
    receiver._server.server_close()
    return port
