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
    """The API under uvicorn on a free loopback port, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    def start(self) -> LiveServer:
        self._thread.start()
        wait_for_port("127.0.0.1", self.port, timeout=60)
        httpx.get(f"{self.url}/readyz", timeout=30).raise_for_status()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
