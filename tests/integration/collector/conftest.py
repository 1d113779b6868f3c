"""Fixtures of the collector's integration tests: settings with unique names, a snapshot sink."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.collector.app import create_app
from secmonkey.collector.settings import Settings
from secmonkey.common import amqp
from secmonkey.common.documents import Account
from secmonkey.common.messages import (
    SNAPSHOTS_EXCHANGE,
    SnapshotBatch,
    SweepCompleted,
    parse_snapshot_message,
)
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.support.servers import MotoServer


def random_account_ids(count: int) -> list[str]:
    """Account IDs no other test uses, so routing keys and documents never collide."""
    rng = random.SystemRandom()
    return [str(rng.randrange(10**11, 10**12)) for _ in range(count)]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy hub credentials for moto; nothing from the developer's own AWS setup."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    # moto's first touch of an account-region loads hundreds of AMIs, which the collector
    # never reads: without them each new account-region costs a fraction of the time.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest_asyncio.fixture
async def settings(
    mongo_url: str,
    amqp_url: str,
    db: Database,
    unique: str,
    moto: MotoServer,
    aws_env: None,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[Settings]:
    """Collector settings on this test's database, queue and routing prefix."""
    yield Settings(
        environment="test",
        mongo_url=mongo_url,
        mongo_db=db.name,
        amqp_url=amqp_url,
        aws_endpoint_url=moto.url,
        sweeps_queue=f"test.sweeps.{unique}",
        securityhub_queue=f"test.securityhub.{unique}",
        routing_prefix=f"test-{unique}",
        scheduler_enabled=False,
        replica_id=f"test-{unique}",
        batch_size=5,
        aws_max_attempts=2,
    )
    channel = await rabbit.channel()
    for name in (
        f"test.sweeps.{unique}",
        f"test.sweeps.{unique}.dead",
        f"test.securityhub.{unique}",
        f"test.securityhub.{unique}.dead",
    ):
        await channel.queue_delete(name)
    await channel.close()


async def add_accounts(db: Database, accounts: list[Account]) -> None:
    await db.accounts.insert_many([a.to_mongo() for a in accounts])


@dataclass
class SnapshotSink:
    """Everything the collector publishes under one routing prefix, kept in arrival order."""

    batches: list[SnapshotBatch] = field(default_factory=list)
    completed: list[SweepCompleted] = field(default_factory=list)
    routing_keys: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        async with message.process():
            parsed = parse_snapshot_message(message.body)
            self.routing_keys.append(message.routing_key or "")
            if isinstance(parsed, SnapshotBatch):
                self.batches.append(parsed)
            else:
                self.completed.append(parsed)
            self._changed.set()

    async def wait_completed(self, sweep_id: str, count: int, timeout: float = 60) -> None:
        """Until `count` SweepCompleted of `sweep_id` arrived."""

        async def enough() -> None:
            while sum(c.sweep_id == sweep_id for c in self.completed) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(enough(), timeout)

    def of(self, sweep_id: str) -> tuple[list[SnapshotBatch], list[SweepCompleted]]:
        return (
            [b for b in self.batches if b.sweep_id == sweep_id],
            [c for c in self.completed if c.sweep_id == sweep_id],
        )


@pytest_asyncio.fixture
async def sink(rabbit: AbstractRobustConnection, settings: Settings) -> AsyncIterator[SnapshotSink]:
    """An exclusive queue bound to the snapshots exchange for this test's routing prefix."""
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchanges[SNAPSHOTS_EXCHANGE], routing_key=f"{settings.routing_prefix}.#")
    sink = SnapshotSink()
    tag = await queue.consume(sink.on_message)
    yield sink
    await queue.cancel(tag)
    await channel.close()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The collector app with its lifespan running, and an HTTP client to it."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://collector"
        ) as client,
    ):
        yield client


@asynccontextmanager
async def sweeps_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, on the collector's database and sweeps queue, and an admin's
    client of it: sweeps are asked for (and followed) there, never on the collector."""
    config = harness.settings_for(
        settings.mongo_url,
        settings.amqp_url,
        settings.mongo_db,
        sweeps_queue=settings.sweeps_queue,
        dead_letter_metrics_seconds=0,
    )
    async with harness.running(config) as app, harness.client_for(app) as client:
        yield client


async def ask_sweep(
    api: httpx.AsyncClient, account_ids: list[str], regions: list[str] | None = None
) -> str:
    """`POST /api/v1/sweeps` for these accounts; the sweep's id."""
    answer = await api.post("/api/v1/sweeps", json={"account_ids": account_ids, "regions": regions})
    assert answer.status_code == 202, answer.text
    assert not answer.json()["pending"], "the API could not hand the request to RabbitMQ"
    return str(answer.json()["sweeps"][0]["sweep_id"])


async def wait_status(
    api: httpx.AsyncClient, sweep_id: str, timeout: float = 30
) -> dict[str, object]:
    """Poll `GET /api/v1/sweeps/{id}` until it is finished."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        answer = (await api.get(f"/api/v1/sweeps/{sweep_id}")).json()
        if answer["status"] not in ("pending", "running"):
            return dict(answer)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"sweep {sweep_id} still {answer['status']}: {answer}")
        await asyncio.sleep(0.1)
