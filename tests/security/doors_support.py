"""Fixtures of the door tests (imported by the test modules that use them, so that other
suites in this directory keep their own conftest): the API in process on the shared estate,
with a key per role."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from fastapi import FastAPI

from tests.integration.api import harness


@pytest_asyncio.fixture(scope="module")
async def doors_app(mongo_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    name = await harness.fresh_estate(mongo_url)
    async with harness.running(harness.settings_for(mongo_url, amqp_url, name)) as app:
        yield app
    await harness.drop(mongo_url, name)


@pytest_asyncio.fixture(scope="module")
async def role_keys(doors_app: FastAPI) -> dict[str, str]:
    made = {"admin": harness.ADMIN_KEY}
    async with harness.client_for(doors_app) as admin:
        for role in ("viewer", "auditor"):
            answer = await admin.post("/api/v1/keys", json={"name": f"doors {role}", "role": role})
            answer.raise_for_status()
            made[role] = answer.json()["key"]
    return made
