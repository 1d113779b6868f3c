"""The admin pages over HTTP: each action answers with the page, a notice on success, and on
refusal the REST API's own reason and status (the app in-process, the real database)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from secmonkey.common.storage import Database
from tests.integration.web.inprocess import browser_like, hidden, running, sign_in

pytestmark = pytest.mark.integration

ACCOUNT = "333333333333"


class Admin:
    """A signed-in admin posting the console's forms, as a browser would."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    async def post(self, path: str, headers: dict[str, str] | None = None, **form: Any) -> Said:
        answer = await self.client.post(
            f"/console/admin{path}", data=form | {"csrf": self.csrf}, headers=headers
        )
        return Said(answer)


class Said:
    """What a page said: its status, its notice (`role=status`) and its error (`role=alert`)."""

    def __init__(self, answer: httpx.Response) -> None:
        self.status = answer.status_code
        self.text = answer.text
        self.notice = _shown(answer.text, "status")
        self.error = _shown(answer.text, "alert")


def _shown(page: str, role: str) -> str | None:
    match = re.search(rf'role="{role}"[^>]*>(.*?)</', page, flags=re.S)
    return html.unescape(match.group(1)) if match else None


@pytest_asyncio.fixture
async def admin(mongo_url: str, amqp_url: str, db_name: str, keys_of: Any) -> AsyncIterator[Admin]:
    """The console on this test's database, an admin signed in (a viewer key exists too)."""
    keys = await keys_of()
    async with running(mongo_url, amqp_url, db_name) as app, browser_like(app) as client:
        await sign_in(client, keys["admin"])
        page = await client.get("/console/admin/accounts")
        yield Admin(client, hidden(page.text, "csrf"))


async def test_accounts_are_added_toggled_and_removed_with_the_apis_refusals(
    admin: Admin, db: Database
) -> None:
    added = await admin.post("/accounts", account_id=ACCOUNT, name="sandbox", regions="eu-west-1")
    assert (added.status, added.notice) == (200, f"Added account {ACCOUNT}.")
    assert "sandbox" in added.text and "eu-west-1" in added.text

    again = await admin.post("/accounts", account_id=ACCOUNT, name="sandbox")
    assert again.status == 409
    assert again.error == f"account {ACCOUNT} already exists; PUT /accounts/{ACCOUNT} changes it"
    short = await admin.post("/accounts", account_id="12", name="short")
    assert short.status == 422 and short.error and short.error.startswith("id: ")
    assert await db.accounts.count_documents({}) == 1

    off = await admin.post(f"/accounts/{ACCOUNT}/toggle")
    assert (off.status, off.notice) == (200, f"Account {ACCOUNT} disabled.")
    on = await admin.post(f"/accounts/{ACCOUNT}/toggle")
    assert on.notice == f"Account {ACCOUNT} enabled."

    removed = await admin.post(f"/accounts/{ACCOUNT}/delete")
    assert removed.notice == f"Removed account {ACCOUNT}; its history stays."
    gone = await admin.post(f"/accounts/{ACCOUNT}/delete")
    assert (gone.status, gone.error) == (404, f"no account {ACCOUNT}")


async def test_allowlist_entries_are_saved_and_removed_and_bad_ones_named(
    admin: Admin, db: Database
) -> None:
    nameless = await admin.post("/allowlist", name="-bad", cidr="203.0.113.0/24")
    assert nameless.status == 422
    assert nameless.error == (
        "name: letters, digits, spaces and . _ : @ + - (starting with a letter or digit)"
    )
    bad = await admin.post("/allowlist", name="office", cidr="203.0.113.0/33")
    assert bad.status == 422 and bad.error and bad.error.startswith("cidr: ")

    saved = await admin.post("/allowlist", name="office", cidr="203.0.113.0/24")
    assert (saved.status, saved.notice) == (200, "Saved office (203.0.113.0/24).")
    assert await db.allowlist.count_documents({}) == 1

    removed = await admin.post("/allowlist/office/delete")
    assert removed.notice == "Removed office."
    gone = await admin.post("/allowlist/office/delete")
    assert (gone.status, gone.error) == (404, "no allowlist entry 'office'")


async def test_subscriptions_are_added_tested_and_removed(admin: Admin, db: Database) -> None:
    bad = await admin.post("/subscriptions", name="ops", channel="email", to="nope")
    assert (bad.status, bad.error) == (422, "channel.to: not email addresses: nope")

    added = await admin.post("/subscriptions", name="ops", channel="email", to="ops@example.com")
    assert (added.status, added.notice) == (200, "Added ops.")
    (subscription,) = await db.subscriptions.find({}).to_list()
    sid = subscription["_id"]

    htmx = {"HX-Request": "true"}
    sent = await admin.post(f"/subscriptions/{sid}/test", headers=htmx)
    assert sent.status == 200 and sent.notice and sent.notice.startswith("Test queued")
    plain = await admin.post(f"/subscriptions/{sid}/test")
    assert plain.notice and plain.notice.startswith("Test queued (event ")
    unknown = await admin.post("/subscriptions/nosuch/test", headers=htmx)
    assert (unknown.status, unknown.error) == (200, "no subscription nosuch")
    unknown = await admin.post("/subscriptions/nosuch/test")
    assert (unknown.status, unknown.error) == (404, "no subscription nosuch")

    removed = await admin.post(f"/subscriptions/{sid}/delete")
    assert (removed.status, removed.notice) == (200, "Subscription removed.")
    assert await db.subscriptions.count_documents({}) == 0


async def test_the_last_admin_key_cannot_be_disabled_or_revoked(admin: Admin, db: Database) -> None:
    (key,) = await db.api_keys.find({"role": "admin"}).to_list()
    for action in ("toggle", "delete"):
        refused = await admin.post(f"/keys/{key['_id']}/{action}")
        assert refused.status == 409
        assert refused.error == (
            "this is the last enabled admin key; create another admin key first "
            "(asked by 'admin person')"
        )
    viewer = await db.api_keys.find_one({"role": "viewer"})
    assert viewer is not None
    off = await admin.post(f"/keys/{viewer['_id']}/toggle")
    assert (off.status, off.notice) == (200, "Key viewer person disabled.")
    revoked = await admin.post(f"/keys/{viewer['_id']}/delete")
    assert (revoked.status, revoked.notice) == (200, "Key revoked.")
