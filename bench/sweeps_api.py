"""Asking for a sweep the one way there is: `POST /api/v1/sweeps` with an admin key. The
benchmarks that start the collector on its own run the API in process beside it (as the
tests do), on the same database and sweeps queue."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

# One key per bench process: the API makes its bootstrap key only while no admin key exists,
# so a second `sweeps_api` on the same database with a new key would get 401.
_KEY = f"smk_bench-{secrets.token_hex(16)}"


@asynccontextmanager
async def sweeps_api(
    mongo_url: str, amqp_url: str, db_name: str, sweeps_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client of the API, running in this process with its lifespan."""
    from secmonkey.api.app import create_app
    from secmonkey.api.settings import Settings

    key = _KEY
    settings = Settings(
        environment="development",
        mongo_url=mongo_url,
        amqp_url=amqp_url,
        mongo_db=db_name,
        sweeps_queue=sweeps_queue,
        bootstrap_admin_key=key,
        dead_letter_metrics_seconds=0,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://api/api/v1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as client,
    ):
        yield client


async def ask_sweep(api: httpx.AsyncClient, account_ids: list[str]) -> str:
    """Ask for one sweep of these accounts; its id."""
    answer = await api.post("/sweeps", json={"account_ids": account_ids})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return str(body["sweeps"][0]["sweep_id"])
