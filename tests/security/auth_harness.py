"""The API in-process on this test's own database, for the security tests of sign-in,
sessions, secrets and the audit log (real FerretDB/MongoDB and RabbitMQ)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from secmonkey.api.app import create_app
from tests.integration.api import harness

ADMIN_KEY = harness.ADMIN_KEY
CONSOLE_SECRET = "security-tests-console-secret-0123456789"


@asynccontextmanager
async def api(mongo_url: str, amqp_url: str, db_name: str, **extra: Any) -> AsyncIterator[FastAPI]:
    """The API with the test's settings; keys are re-read on every request (no cache)."""
    values: dict[str, Any] = {
        "key_cache_seconds": 0,
        "console_secret": CONSOLE_SECRET,
        "console_secure_cookie": False,
        "log_level": "WARNING",
    }
    settings = harness.settings_for(mongo_url, amqp_url, db_name, **(values | extra))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client(app: FastAPI, key: str | None = ADMIN_KEY, **headers: str) -> httpx.AsyncClient:
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api.test",
        headers=sent | headers,
    )


async def new_key(app: FastAPI, role: str, **more: Any) -> dict[str, Any]:
    async with client(app) as admin:
        answer = await admin.post(
            "/api/v1/keys", json={"name": f"{role} person", "role": role} | more
        )
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created
