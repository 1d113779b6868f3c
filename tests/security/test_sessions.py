"""Console sessions live on the server: signing out, revoking or disabling the key end them,
and a copied cookie is worthless afterwards."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.common.storage import Database
from tests.integration.web.inprocess import hidden
from tests.security.auth_harness import api, client, new_key

pytestmark = pytest.mark.integration


def _browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")


async def _signed_in(app: FastAPI, key: str) -> httpx.AsyncClient:
    browser = _browser(app)
    form = await browser.get("/console/login")
    answer = await browser.post(
        "/console/login", data={"key": key, "csrf": hidden(form.text, "csrf"), "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    return browser


def _stolen(browser: httpx.AsyncClient, app: FastAPI) -> httpx.AsyncClient:
    """Another browser holding a copy of the session cookie."""
    thief = _browser(app)
    thief.cookies.set("secmonkey_session", browser.cookies["secmonkey_session"])
    return thief


async def test_logout_revokes_session_server_side(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app:
        key = (await new_key(app, "viewer"))["key"]
        browser = await _signed_in(app, key)
        thief = _stolen(browser, app)
        assert (await thief.get("/console/groups")).status_code == 200
        assert await db.console_sessions.count_documents({}) == 1
        cookie = browser.cookies["secmonkey_session"]
        assert key not in cookie and "hash" not in cookie

        page = await browser.get("/console/groups")
        out = await browser.post("/console/logout", data={"csrf": hidden(page.text, "csrf")})
        assert out.status_code == 303
        assert await db.console_sessions.count_documents({}) == 0
        replayed = await thief.get("/console/groups")  # the copied cookie, still signed
        assert replayed.status_code == 303 and "/console/login" in replayed.headers["location"]
        async with client(app) as admin:
            actions = [e["action"] for e in (await admin.get("/api/v1/audit-log")).json()["items"]]
        assert "console.signed_in" in actions and "console.signed_out" in actions
        await browser.aclose()
        await thief.aclose()


async def test_revoking_or_disabling_a_key_ends_its_console_sessions(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with api(mongo_url, amqp_url, db_name) as app:
        revoked, disabled = await new_key(app, "auditor"), await new_key(app, "viewer")
        browsers = {
            "revoked": await _signed_in(app, revoked["key"]),
            "disabled": await _signed_in(app, disabled["key"]),
        }
        async with client(app) as admin:
            assert (await admin.delete(f"/api/v1/keys/{revoked['id']}")).status_code == 204
            patched = await admin.patch(f"/api/v1/keys/{disabled['id']}", json={"enabled": False})
            assert patched.status_code == 200
            # enabling it again does not bring the ended session back
            await admin.patch(f"/api/v1/keys/{disabled['id']}", json={"enabled": True})
        assert await db.console_sessions.count_documents({}) == 0
        for browser in browsers.values():
            answer = await browser.get("/console/groups")
            assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
            await browser.aclose()
