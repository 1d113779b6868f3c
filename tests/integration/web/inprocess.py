"""The console in-process over HTTP (httpx over ASGI), for tests that need no browser."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from secmonkey.api.app import create_app
from tests.integration.web.conftest import console_settings


@asynccontextmanager
async def running(
    mongo_url: str, amqp_url: str, db_name: str, **extra: Any
) -> AsyncIterator[FastAPI]:
    app = create_app(console_settings(mongo_url, amqp_url, db_name, **extra))
    async with app.router.lifespan_context(app):
        yield app


def browser_like(app: FastAPI, scheme: str = "http") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=f"{scheme}://console.test"
    )


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name} field"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, key: str, next_url: str = "/") -> httpx.Response:
    form = await client.get("/console/login")
    return await client.post(
        "/console/login",
        data={"key": key, "csrf": hidden(form.text, "csrf"), "next": next_url},
    )
