"""Console sign-in, session cookies and CSRF over HTTP (the app in-process, the real database)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from secmonkey.common.storage import Database
from tests.integration.web.inprocess import browser_like, hidden, running, sign_in

pytestmark = pytest.mark.integration
ISSUE = "0123456789abcdef0123456789abcdef"


async def test_sign_in_sets_a_signed_httponly_lax_cookie_without_the_key(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, keys_of: Any
) -> None:
    keys = await keys_of()
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        answer = await sign_in(client, keys["viewer"], "/groups?name=web")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/groups?name=web"
        cookie = next(
            v
            for k, v in answer.headers.multi_items()
            if k == "set-cookie" and v.startswith("secmonkey_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # configured off for plain http on loopback
        assert keys["viewer"] not in cookie
        page = await client.get("/console/")
        assert page.status_code == 200 and "viewer person" in page.text
        assert page.headers["cache-control"] == "no-store"


async def test_the_secure_flag_is_on_by_default_over_https(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, keys_of: Any
) -> None:
    keys = await keys_of()
    async with (
        running(mongo_url, amqp_url, db_name, console_secure_cookie=None) as app,
        browser_like(app, "https") as client,
    ):
        answer = await sign_in(client, keys["viewer"])
        cookie = answer.headers.get_list("set-cookie")
        assert any(c.startswith("secmonkey_session=") and "Secure" in c for c in cookie)


async def test_wrong_key_stale_form_and_foreign_next_are_refused(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, keys_of: Any
) -> None:
    keys = await keys_of()
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        wrong = await sign_in(client, "smk_" + "x" * 43)
        assert wrong.status_code == 401 and "unknown or disabled" in wrong.text
        assert "secmonkey_session" not in wrong.headers.get("set-cookie", "")

        forged = await client.post("/console/login", data={"key": keys["admin"], "csrf": "guess"})
        assert forged.status_code == 403 and "expired" in forged.text

        away = await sign_in(client, keys["viewer"], "//evil.example/steal")
        assert away.status_code == 303 and away.headers["location"] == "/console/"


async def test_every_form_needs_the_session_csrf_token(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, keys_of: Any
) -> None:
    keys = await keys_of()
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        await sign_in(client, keys["admin"])
        page = await client.get("/console/admin/keys")
        token = hidden(page.text, "csrf")
        posts = [
            ("/console/issues/" + ISSUE + "/justify", {"reason": "accepted risk"}),
            ("/console/issues/" + ISSUE + "/reopen", {}),
            ("/console/admin/keys", {"name": "sneaky", "role": "admin"}),
            ("/console/admin/accounts", {"account_id": "333333333333", "name": "x"}),
            ("/console/admin/allowlist", {"name": "all", "cidr": "0.0.0.0/0"}),
            ("/console/logout", {}),
        ]
        for path, form in posts:
            refused = await client.post(path, data=form)
            assert refused.status_code == 403, path
            other = "y" if token.endswith("x") else "x"  # never the token itself
            wrong = await client.post(path, data=form | {"csrf": token[:-1] + other})
            assert wrong.status_code == 403, path
        assert await db.api_keys.count_documents({"name": "sneaky"}) == 0
        assert await db.accounts.count_documents({}) == 0
        # with the token the same form goes through (and the checks after CSRF apply)
        missing = await client.post(
            "/console/issues/" + ISSUE + "/justify", data={"reason": "accepted risk", "csrf": token}
        )
        assert missing.status_code == 404 and f"no issue {ISSUE}" in missing.text
        made = await client.post(
            "/console/admin/keys", data={"name": "ci", "role": "viewer", "csrf": token}
        )
        assert made.status_code == 200 and "smk_" in made.text


async def test_tampered_expired_or_revoked_sessions_sign_out(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, keys_of: Any
) -> None:
    keys = await keys_of()
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        await sign_in(client, keys["viewer"])
        good = client.cookies.get("secmonkey_session")
        assert good
        payload, signature = good.split(".")
        client.cookies.set("secmonkey_session", payload + "." + signature[::-1], path="/console")
        tampered = await client.get("/console/groups")
        assert tampered.status_code == 303
        assert tampered.headers["location"] == "/console/login?next=%2Fgroups"

        client.cookies.set("secmonkey_session", good, path="/console")
        assert (await client.get("/console/groups")).status_code == 200
        await db.api_keys.update_one({"name": "viewer person"}, {"$set": {"enabled": False}})
        revoked = await client.get("/console/groups")
        assert revoked.status_code == 303 and "/console/login" in revoked.headers["location"]

        htmx = await client.get("/console/groups", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"].startswith("/console/login")

    async with (
        # 7.2 s: a sign-in writes the session, its audit entry and event before it answers
        running(mongo_url, amqp_url, db_name, console_session_hours=0.002) as app,
        browser_like(app) as client,
    ):
        await sign_in(client, keys["auditor"])
        assert (await client.get("/console/issues")).status_code == 200
        await asyncio.sleep(7.5)
        assert (await client.get("/console/issues")).status_code == 303


async def test_the_console_stays_out_of_the_api_schema_and_root_leads_to_it(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        schema = (await client.get("/openapi.json")).json()
        assert not [p for p in schema["paths"] if p.startswith("/console") or p == "/"]
        root = await client.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/console/"
        asset = await client.get("/console/static/htmx.min.js")
        assert asset.status_code == 200 and asset.text.startswith("var htmx=")
        assert "no-store" not in asset.headers.get("cache-control", "")
        # the API's own errors are unchanged: problem documents, not pages
        problem = await client.get("/api/v1/groups")
        assert problem.status_code == 401
        assert problem.headers["content-type"] == "application/problem+json"
