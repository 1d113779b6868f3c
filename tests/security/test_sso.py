"""Single sign-on: the console signs people in through an OpenID Connect provider (a real
one, `oidc-provider-mock`, started on loopback), with PKCE, and maps their groups to roles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from oidc_provider_mock import run_server_in_thread

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import batch, ingress, key, snap
from tests.integration.web.inprocess import hidden
from tests.security.auth_harness import api, client

pytestmark = pytest.mark.integration
ROLE_MAP = {"secops": "admin", "grc": "auditor", "staff": "viewer"}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The OpenID Connect provider on a free loopback port (its issuer is this URL)."""
    with run_server_in_thread(port=0) as server:
        yield f"http://localhost:{server.server_port}"


def _set_user(provider: str, sub: str, **claims: object) -> None:
    answer = httpx.put(f"{provider}/users/{sub}", json=claims)
    assert answer.status_code == 204, answer.text


async def _sign_on(
    app: FastAPI, provider: str, sub: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """What a browser does: to the provider, sign in there as `sub`, back to the console."""
    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    )
    start = await browser.get("/console/sso/login", params={"next": "/issues"})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    sent = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(provider) and sent["code_challenge_method"] == ["S256"]
    assert sent["code_challenge"] and sent["nonce"] and sent["state"]

    def consent() -> httpx.Response:
        return httpx.post(authorize, data={"sub": sub}, follow_redirects=False)

    back = await asyncio.to_thread(consent)
    assert back.status_code == 302, back.text
    returned = urlsplit(back.headers["location"])
    assert returned.path == "/console/sso/callback"
    answer = await browser.get(f"/console/sso/callback?{returned.query}")
    return browser, answer


async def test_oidc_sign_in_maps_groups_to_roles(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, provider: str
) -> None:
    settings = {
        "oidc_issuer": provider,
        "oidc_client_id": "secmonkey-console",
        "oidc_client_secret": "console-client-secret",
        "oidc_role_map": json.dumps(ROLE_MAP),
    }
    _set_user(provider, "alice", email="alice@example.com", groups=["staff", "secops"])
    _set_user(provider, "bob", email="bob@example.com", groups=["staff"])
    _set_user(provider, "mallory", email="mallory@example.com", groups=["contractors"])
    async with api(mongo_url, amqp_url, db_name, **settings) as app:
        async with client(app, None) as anonymous:
            login = await anonymous.get("/console/login")
            # A callback that did not start here (no state cookie) is refused.
            forged = await anonymous.get("/console/sso/callback?code=x&state=y")
        assert "/console/sso/login" in login.text and forged.status_code == 403

        alice, signed_in = await _sign_on(app, provider, "alice")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/console/issues"
        keys_page = await alice.get("/console/admin/keys")  # admin: the highest of her groups
        assert keys_page.status_code == 200 and "alice@example.com" in keys_page.text

        bob, _ = await _sign_on(app, provider, "bob")
        assert (await bob.get("/console/issues")).status_code == 200
        assert (await bob.get("/console/admin/keys")).status_code == 403  # a viewer

        mallory, refused = await _sign_on(app, provider, "mallory")
        assert refused.status_code == 403 and "none of your groups" in refused.text
        assert "secmonkey_session" not in mallory.cookies

        async with client(app) as admin:
            log = await admin.get("/api/v1/audit-log", params={"action": "console.signed_in"})
        entries = {e["actor"]["name"]: e for e in log.json()["items"]}
        assert entries["alice@example.com"]["via"] == "sso"
        assert entries["alice@example.com"]["actor"] == {
            "kind": "user",
            "id": "sso:alice",
            "name": "alice@example.com",
            "role": "admin",
        }
        assert entries["bob@example.com"]["actor"]["role"] == "viewer"
        assert "mallory@example.com" not in entries
        for browser in (alice, bob, mallory):
            await browser.aclose()
    sessions = await db.console_sessions.find({}).to_list()
    assert {s["user"]["name"] for s in sessions} == {"alice@example.com", "bob@example.com"}


async def test_an_sso_group_mapped_to_reviewer_reviews_changes_and_does_nothing_else(
    mongo_url: str, amqp_url: str, db: Database, db_name: str, provider: str
) -> None:
    """The change board signs in through SSO: its group maps to `reviewer`, so its members
    see the review queue, approve with a ticket, and every other page is refused."""
    settings = {
        "oidc_issuer": provider,
        "oidc_client_id": "secmonkey-console",
        "oidc_client_secret": "console-client-secret",
        "oidc_role_map": json.dumps({**ROLE_MAP, "change-board": "reviewer"}),
    }
    _set_user(provider, "rita", email="rita@example.com", groups=["change-board"])
    pci = {"compliance": "pci"}
    auditor = Auditor(db, RulesConfig())
    async with api(mongo_url, amqp_url, db_name, **settings) as app:
        async with client(app) as admin:
            scope = await admin.put("/api/v1/scopes/pci", json={"tags": pci})
            assert scope.status_code == 200, scope.text
        await auditor.handle(batch(0, snap("sg-pay", ingress(22, "0.0.0.0/0"), tags=pci)))
        await auditor.handle(batch(0, snap("sg-card", ingress(443, "10.0.0.0/8"), tags=pci)))
        issue = await db.issues.find_one({})
        pending = f"{key('sg-pay')}:1"

        rita, signed_in = await _sign_on(app, provider, "rita")
        assert signed_in.status_code == 303
        try:
            home = await rita.get("/console/")
            assert home.status_code == 303 and home.headers["location"] == "/console/reviews"
            queue = await rita.get("/console/reviews")
            assert queue.status_code == 200 and pending in queue.text
            assert 'href="/console/groups"' not in queue.text  # the nav shows reviews only
            detail = await rita.get(f"/console/reviews/{pending}")
            assert detail.status_code == 200 and "Approve" in detail.text
            csrf = hidden(queue.text, "csrf")
            decided = await rita.post(
                f"/console/reviews/{pending}/decide",
                data={"decision": "approve", "ticket": "CHG-2024", "csrf": csrf},
            )
            assert decided.status_code == 303, decided.text
            bulk = await rita.post(
                "/console/reviews/approve",
                data={"ids": [f"{key('sg-card')}:1"], "ticket": "CHG-2025", "csrf": csrf},
            )
            assert bulk.status_code == 200 and "approved" in bulk.text

            # Nothing else: no page outside the review queue, no form, no REST call.
            for page in (
                "/console/groups",
                "/console/issues",
                "/console/search",
                "/console/compliance",
                "/console/admin/keys",
                "/console/admin/scopes",
                "/console/evidence?scope=pci",
                f"/console/groups/{key('sg-pay')}",
            ):
                assert (await rita.get(page)).status_code == 403, page
            assert issue is not None
            justify = await rita.post(
                f"/console/issues/{issue['_id']}/justify",
                data={"reason": "because", "csrf": csrf},
            )
            assert justify.status_code == 403
            for path in ("/api/v1/groups", "/api/v1/change-reviews", "/api/v1/issues"):
                assert (await rita.get(path)).status_code == 401, path
        finally:
            await rita.aclose()

    reviews = {d["_id"]: d async for d in db.change_reviews.find({})}
    assert (reviews[pending]["status"], reviews[pending]["ticket"]) == ("approved", "CHG-2024")
    assert reviews[pending]["reviewer"] == "rita@example.com"
    assert reviews[f"{key('sg-card')}:1"]["ticket"] == "CHG-2025"
    assert await db.issues.count_documents({"status": "justified"}) == 0
    assert await db.audit_log.count_documents({"action": "evidence.downloaded"}) == 0
