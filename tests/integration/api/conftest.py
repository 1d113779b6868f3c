"""The API on a shared estate (read-only tests) and on a fresh database (tests that write)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from fastapi import FastAPI

from secmonkey.common.storage import Database
from tests.integration.api import harness


@pytest_asyncio.fixture(scope="session")
async def estate_db_name(mongo_url: str) -> AsyncIterator[str]:
    """One database filled through the auditor, shared by the tests that only read."""
    name = await harness.fresh_estate(mongo_url)
    yield name
    await harness.drop(mongo_url, name)


@pytest_asyncio.fixture(scope="session")
async def estate_app(mongo_url: str, amqp_url: str, estate_db_name: str) -> AsyncIterator[FastAPI]:
    async with harness.running(harness.settings_for(mongo_url, amqp_url, estate_db_name)) as app:
        yield app


@pytest_asyncio.fixture(scope="session")
async def keys(estate_app: FastAPI) -> dict[str, str]:
    """A key per role on the shared estate, created through the API."""
    made = {"admin": harness.ADMIN_KEY}
    async with harness.client_for(estate_app) as admin:
        for role in ("viewer", "auditor"):
            response = await admin.post("/api/v1/keys", json={"name": f"test {role}", "role": role})
            response.raise_for_status()
            made[role] = response.json()["key"]
    return made


@pytest_asyncio.fixture
async def api(estate_app: FastAPI, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A viewer's client of the shared estate: reads only."""
    async with harness.client_for(estate_app, keys["viewer"]) as client:
        yield client


@pytest_asyncio.fixture(scope="session")
async def scratch_app(mongo_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    """The API on an empty database shared by the tests that write (each uses its own names)."""
    name = await harness.empty_database(mongo_url)
    async with harness.running(harness.settings_for(mongo_url, amqp_url, name)) as app:
        yield app
    await harness.drop(mongo_url, name)


@pytest_asyncio.fixture
async def admin(scratch_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client of the scratch database."""
    async with harness.client_for(scratch_app) as client:
        yield client


@pytest_asyncio.fixture
async def fresh_app(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> AsyncIterator[FastAPI]:
    """The API on this test's own empty database (for tests about the whole collection)."""
    async with harness.running(harness.settings_for(mongo_url, amqp_url, db_name)) as app:
        yield app
