"""The console in a real browser: the api service under uvicorn, Debian's chromium via Playwright.

Chromium is Debian's (`make browser` installs it); Playwright only drives it and never
downloads a browser. The read-only tests share one estate and one server; a test that
writes gets its own database and server.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from secmonkey.api.app import create_app
from secmonkey.api.auth import create_key
from secmonkey.api.settings import Settings
from secmonkey.common import storage
from secmonkey.common.storage import Database
from tests.support import estate
from tests.support.servers import free_port, wait_for_port

CHROMIUM = os.environ.get("SECMONKEY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
CONSOLE_SECRET = "console-tests-secret-0123456789abcdef0123"


def console_settings(mongo_url: str, amqp_url: str, db_name: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "mongo_url": mongo_url,
        "amqp_url": amqp_url,
        "mongo_db": db_name,
        "sweeps_queue": f"test.sweeps.{uuid.uuid4().hex[:10]}",
        "console_secret": CONSOLE_SECRET,
        # plain http on loopback: a Secure cookie would never come back
        "console_secure_cookie": False,
        "key_cache_seconds": 0,
        "log_level": "WARNING",
    }
    return Settings(**(values | extra))


class LiveApi:
    """The api service under uvicorn on a free loopback port, in a thread with its own loop."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.console = f"{self.url}/console"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            log_config=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()), daemon=True
        )

    async def __aenter__(self) -> LiveApi:
        self._thread.start()
        await asyncio.to_thread(wait_for_port, "127.0.0.1", self.port, 60)
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                if (await client.get(f"{self.url}/openapi.json")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the api service never became ready")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        await asyncio.to_thread(self._thread.join, 30)


@dataclass
class Console:
    """A running console over an estate, with a key per role."""

    api: LiveApi
    db: Database
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.api.console


async def _estate_database(mongo_url: str) -> tuple[Any, Database, str]:
    name = f"test_web_{uuid.uuid4().hex[:10]}"
    client = storage.connect(mongo_url)
    await storage.detect(client)
    db = client[name]
    await storage.ensure_indexes(db)
    await estate.CONSOLE.build(db)
    return client, db, name


@pytest_asyncio.fixture(scope="session")
async def shared_console(mongo_url: str, amqp_url: str) -> AsyncIterator[Console]:
    """One estate and server for the tests that only read (each uses its own browser context)."""
    client, db, name = await _estate_database(mongo_url)
    try:
        keys = await estate.keys(db)
        async with LiveApi(console_settings(mongo_url, amqp_url, name)) as api:
            yield Console(api=api, db=db, keys=keys)
    finally:
        await client.drop_database(name)
        await client.close()


@pytest_asyncio.fixture
async def own_console(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> AsyncIterator[Console]:
    """The estate in this test's own database, for a test that changes it."""
    await estate.CONSOLE.build(db)
    keys = await estate.keys(db)
    async with LiveApi(console_settings(mongo_url, amqp_url, db_name)) as api:
        yield Console(api=api, db=db, keys=keys)


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (installs Debian's chromium)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) at laptop width."""
    made = await browser.new_context(viewport=LAPTOP, locale="en-GB", timezone_id="UTC")
    made.set_default_timeout(10_000)
    yield made
    await made.close()


@pytest_asyncio.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    opened = await context.new_page()
    yield opened
    await opened.close()


@pytest.fixture
def keys_of(db: Database) -> Any:
    async def make() -> dict[str, str]:
        made = {}
        for role in ("viewer", "auditor", "admin"):
            _, made[role] = await create_key(db, f"{role} person", role)
        return made

    return make


async def sign_in(page: Page, console: Console, role: str) -> None:
    """Sign in through the form, as a person would."""
    await page.goto(f"{console.url}/")
    await page.get_by_label("API key").fill(console.keys[role])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{console.url}/")
