"""Running the API for tests: in-process (httpx over ASGI) or as a real server on loopback."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from secmonkey.api.app import create_app
from secmonkey.api.settings import Settings
from secmonkey.common import storage
from tests.support.estate import HISTORY
from tests.support.servers import free_port, wait_for_port

ADMIN_KEY = "smk_test-admin-key-for-the-api-tests-0001"
STOP_SECONDS = 10.0


def settings_for(mongo_url: str, amqp_url: str, db_name: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "mongo_url": mongo_url,
        "amqp_url": amqp_url,
        "mongo_db": db_name,
        "bootstrap_admin_key": ADMIN_KEY,
        "sweeps_queue": f"test.sweeps.{uuid.uuid4().hex[:10]}",
        "webhook_resolve": False,
        # tests that send wrong keys on purpose are not about sign-in limits
        # (tests/security/test_auth_limits.py is)
        "auth_failures_per_key": 1_000_000,
        "auth_failures_per_address": 1_000_000,
    }
    return Settings(**(values | extra))


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered (MongoDB, RabbitMQ, the bootstrap key)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def ops_client(app: FastAPI) -> httpx.AsyncClient:
    """A client of the API's probes and metrics (the application on its metrics port)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.state.ops), base_url="http://ops"
    )


def client_for(app: FastAPI, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api", headers=headers
    )


async def fresh_estate(mongo_url: str) -> str:
    """A new database filled with the estate through the auditor; returns its name."""
    name = f"test_api_{uuid.uuid4().hex[:10]}"
    client = storage.connect(mongo_url)
    try:
        await storage.detect(client)
        db = client[name]
        await storage.ensure_indexes(db)
        await HISTORY.build(db)
    finally:
        await client.close()
    return name


async def empty_database(mongo_url: str) -> str:
    """A new database with every index and no data; returns its name."""
    name = f"test_api_{uuid.uuid4().hex[:10]}"
    client = storage.connect(mongo_url)
    try:
        await storage.ensure_indexes(client[name])
    finally:
        await client.close()
    return name


async def drop(mongo_url: str, name: str) -> None:
    client = storage.connect(mongo_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


class LiveServer:
    """The API under uvicorn on a free loopback port (and its probes and metrics on another),
    in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.ops_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ops_url = f"http://127.0.0.1:{self.ops_port}"
        app = create_app(settings)
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._ops = uvicorn.Server(
            uvicorn.Config(
                app.state.ops,
                host="127.0.0.1",
                port=self.ops_port,
                log_level="warning",
                lifespan="off",
            )
        )
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def both() -> None:
            await asyncio.gather(self._server.serve(), self._ops.serve())

        # Not `asyncio.run`: at its end it waits without a bound for every task left, and a
        # task that swallows its cancellation (aiormq can) would keep this thread, and the
        # server's reconnecting client, alive after the test.
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(both())
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=STOP_SECONDS))
        finally:
            loop.close()

    def start(self) -> LiveServer:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, timeout=60)
        wait_for_port("127.0.0.1", self.ops_port, timeout=60)
        httpx.get(f"{self.ops_url}/readyz", timeout=30).raise_for_status()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._ops.should_exit = True
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # a shutdown that hangs: stop harder, then say so
            self._server.force_exit = self._ops.force_exit = True
            self._thread.join(timeout=STOP_SECONDS * 2)
        assert not self._thread.is_alive(), f"the API on port {self.port} did not stop"
