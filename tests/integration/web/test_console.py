"""The console in headless Chromium, against a running api service and data the auditor wrote."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.integration.web.conftest import LAPTOP, PHONE, SCREENSHOTS, Console, sign_in
from tests.support import estate

pytestmark = pytest.mark.integration


async def test_sign_in_with_a_key_then_find_a_group_by_name(
    page: Page, shared_console: Console
) -> None:
    await page.goto(f"{shared_console.url}/groups?name=pay")
    # not signed in: the sign-in form, which comes back to the page asked for
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("API key").fill("smk_not-a-key-anyone-issued")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("unknown or disabled")

    # keyboard only: the key field has focus, Enter submits
    await page.get_by_label("API key").fill(shared_console.keys["viewer"])
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"/console/groups\?name=pay$"))
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["secmonkey_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert shared_console.keys["viewer"] not in session["value"]

    # the name filter narrows the list as one types (htmx), and the URL follows
    await page.goto(f"{shared_console.url}/groups")
    results = page.locator("#results tbody tr")
    await expect(results).to_have_count(5)  # the active groups of both accounts
    await page.get_by_label("Name starts with").fill("ORDERS")
    await expect(results).to_have_count(1)
    await expect(page).to_have_url(re.compile(r"name=ORDERS"))
    await page.get_by_role("link", name="orders-db").click()

    await expect(page.get_by_role("heading", name="orders-db", level=1)).to_be_visible()
    rules = page.locator("table.rules tbody tr")
    await expect(rules).to_have_count(3)
    # a rule whose source is a group shows that group's name, resolved
    reference = rules.filter(has_text=estate.WEB)
    await expect(reference).to_contain_text("payments-web")
    await expect(reference).to_contain_text("tcp/5432")


async def test_history_and_a_side_by_side_diff_show_the_added_rule(
    page: Page, shared_console: Console
) -> None:
    await sign_in(page, shared_console, "viewer")
    await page.goto(f"{shared_console.url}/groups?name=payments")
    await page.get_by_role("link", name="payments-web").click()
    await page.get_by_role("link", name=re.compile(r"^History")).click()

    timeline = page.locator("ol.timeline > li")
    await expect(timeline).to_have_count(2)
    await expect(timeline.first).to_contain_text("Revision 2")
    await expect(timeline.first).to_contain_text(estate.OFFICE_SSH)

    await page.get_by_label("Compare revision").select_option("1")
    await page.get_by_label("with revision").select_option("2")
    await page.get_by_role("button", name="Compare").click()
    assert "/diff?" in page.url and "from=1" in page.url and "to=2" in page.url
    await expect(page.get_by_role("heading", name="Revision 1 → revision 2")).to_be_visible()

    added = page.locator("table.side-by-side tr.row-added")
    await expect(added).to_have_count(1)
    await expect(added.locator("td").nth(1)).to_contain_text("tcp/22")
    await expect(added.locator("td").nth(1)).to_contain_text("198.51.100.0/24")
    await expect(added.locator("td").nth(1)).to_contain_text("office vpn")
    await expect(added.locator("td").nth(0)).to_have_text("")
    green = await added.locator("td.add").evaluate("td => getComputedStyle(td).backgroundColor")
    assert green == "rgb(218, 251, 225)"
    await expect(page.locator("table.side-by-side tr.row-same")).to_have_count(2)
    await expect(page.locator("ul.changes li.add")).to_have_text(f"added: + {estate.OFFICE_SSH}")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "group-diff.png"), full_page=True)


async def test_search_by_ip_finds_the_rule_that_lets_it_in(
    page: Page, shared_console: Console
) -> None:
    await sign_in(page, shared_console, "viewer")
    await page.get_by_role("link", name="Search").click()
    await page.get_by_label("IP address, CIDR or group IDs").fill(estate.BASTION_IP)
    await page.get_by_role("button", name="Search").click()
    await expect(page).to_have_url(re.compile(r"/console/search\?q=203\.0\.113\.7"))

    rows = page.locator("table.matches tbody tr")
    bastion = rows.filter(has_text="dev-bastion")
    await expect(bastion).to_have_count(1)
    await expect(bastion).to_contain_text(f"ingress tcp/22 from {estate.BASTION_IP}/32")
    await expect(bastion).to_contain_text("admin home")
    await expect(bastion).to_contain_text(estate.DEV)
    # every rule open to the whole internet lets that address in too
    await expect(
        rows.filter(has_text="legacy-admin").filter(has_text=estate.WORLD_SSH)
    ).to_have_count(1)

    # the same address as a network, exact match: only the rule written for it
    await page.get_by_label("IP address, CIDR or group IDs").fill(f"{estate.BASTION_IP}/32")
    await page.get_by_label("Match").select_option("exact")
    await page.get_by_role("button", name="Search").click()
    await expect(page).to_have_url(re.compile(r"match=exact"))
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("dev-bastion")

    # a group ID resolves to its name and account
    await page.get_by_label("IP address, CIDR or group IDs").fill(f"{estate.DB} {estate.BASTION}")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#results tbody tr")).to_have_count(2)
    await expect(page.locator("#results")).to_contain_text("orders-db")
    await expect(page.locator("#results")).to_contain_text("dev-bastion")


async def test_justifying_an_issue_takes_it_off_the_open_list(
    page: Page, own_console: Console
) -> None:
    await sign_in(page, own_console, "auditor")
    await page.goto(f"{own_console.url}/issues?group_id={estate.LEGACY}")
    finding = page.locator("#results tbody tr").filter(has_text=estate.WORLD_SSH)
    await expect(finding).to_have_count(1)
    await finding.get_by_text("Justify").click()
    await finding.get_by_label("Reason").fill("break-glass host, reviewed by secops")
    await finding.get_by_label("Until (UTC, optional)").fill("2099-01-31T12:00")
    await finding.get_by_role("button", name="Accept finding").click()

    # htmx swaps the row for a notice, focused for keyboard and screen-reader users
    notice = page.locator("tr.done")
    await expect(notice).to_contain_text("Justified by auditor tester")
    await expect(notice).to_contain_text("has left the open list")
    await expect(notice).to_be_focused()

    await page.reload()
    await expect(page.locator("#results tbody tr").filter(has_text=estate.WORLD_SSH)).to_have_count(
        0
    )
    await page.get_by_label("Status").select_option("justified")
    justified = page.locator("#results tbody tr").filter(has_text=estate.WORLD_SSH)
    await expect(justified).to_have_count(1)
    await expect(justified).to_contain_text("break-glass host, reviewed by secops")
    await expect(justified).to_contain_text("2099-01-31 12:00 UTC")
    # the REST API, reading the same collection through the same query, agrees
    async with httpx.AsyncClient(base_url=own_console.api.url) as api:
        answer = await api.get(
            "/api/v1/issues",
            params={"status": "justified", "group_id": estate.LEGACY},
            headers={"Authorization": f"Bearer {own_console.keys['viewer']}"},
        )
    assert answer.status_code == 200
    [issue] = [i for i in answer.json()["items"] if i["rule_text"] == estate.WORLD_SSH]
    assert issue["justification"]["by"] == "auditor tester"


async def test_a_viewer_key_cannot_see_admin_pages(page: Page, shared_console: Console) -> None:
    await sign_in(page, shared_console, "viewer")
    await expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    await expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True)
    ).to_have_count(0)
    for path in ("/admin/accounts", "/admin/keys", "/admin/subscriptions", "/admin/allowlist"):
        response = await page.goto(f"{shared_console.url}{path}")
        assert response is not None and response.status == 403, path
        await expect(page.get_by_role("alert")).to_contain_text("needs the admin role")
        await expect(page.locator("table")).to_have_count(0)
    # nor can it justify (auditor) from the issues page: no action column at all
    await page.goto(f"{shared_console.url}/issues")
    await expect(page.get_by_text("Justify")).to_have_count(0)


async def test_an_admin_sees_and_uses_the_admin_pages(page: Page, own_console: Console) -> None:
    await sign_in(page, own_console, "admin")
    await (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link", name="Admin", exact=True)
        .click()
    )
    await expect(page.get_by_role("heading", name="Admin · Accounts")).to_be_visible()
    await expect(page.locator("table")).to_contain_text(estate.PROD)

    # a subscription added through the form, then "send a test": a pending test delivery
    await page.get_by_role("link", name="Subscriptions").click()
    await page.get_by_label("Name", exact=True).fill("secops mail")
    await page.get_by_label("Email recipients (email)").fill("secops@example.com")
    await page.get_by_role("button", name="Add subscription").click()
    await expect(page.get_by_role("status")).to_contain_text("Added secops mail")
    row = page.locator("tbody tr").filter(has_text="secops mail")
    await row.get_by_role("button", name="Send a test").click()
    await expect(row.locator(".test-result")).to_contain_text("Test queued")
    # Queued in the notifier's outbox, which its retry loop sends and records.
    test = await own_console.db.delivery_schedule.find_one({"subscription_name": "secops mail"})
    assert test is not None and test["status"] == "pending" and test["test"] is True

    await page.get_by_role("link", name="API keys").click()
    await page.get_by_label("Name").fill("ci pipeline")
    await page.get_by_label("Role").select_option("viewer")
    await page.get_by_role("button", name="Create key").click()
    new_key = await page.get_by_label("Key").input_value()
    assert new_key.startswith("smk_")
    await expect(page.locator("table")).to_contain_text("ci pipeline")
    await page.goto(f"{own_console.url}/admin/keys")
    await expect(page.locator("#new-key")).to_have_count(0)  # shown once, never again

    # the new key signs in, as the viewer it is
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("API key").fill(new_key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".who-name")).to_contain_text("ci pipeline")
    await expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin", exact=True)
    ).to_have_count(0)


async def test_hostile_text_from_aws_is_shown_as_text(page: Page, shared_console: Console) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await sign_in(page, shared_console, "viewer")
    await page.goto(f"{shared_console.url}/groups/{estate.PROBE}")

    await expect(page.locator("p.description")).to_have_text(estate.HOSTILE_DESCRIPTION)
    await expect(page.locator("dl.tags dt")).to_have_text(estate.HOSTILE_TAG_KEY)
    await expect(page.locator("dl.tags dd")).to_have_text(estate.HOSTILE_TAG_VALUE)
    await expect(page.locator("table.rules td.desc")).to_have_text(estate.HOSTILE_RULE_DESCRIPTION)
    # nothing the text described became an element, and nothing ran
    assert await page.locator("main script, main img[src=x], #tagkey").count() == 0
    scripts = await page.evaluate("[...document.scripts].map(s => s.src)")
    assert all(src.endswith(("/static/htmx.min.js", "/static/console.js")) for src in scripts)
    assert await page.evaluate("window.__xss") is None
    assert dialogs == []
    # the policy would also stop any inline script that slipped through
    response = await page.goto(f"{shared_console.url}/groups?name=xss")
    assert response is not None
    assert "script-src 'self'" in (response.headers.get("content-security-policy") or "")
    await expect(page.locator("#results")).to_contain_text("xss-probe")


async def test_dashboard_on_a_laptop_and_a_phone(browser: Browser, shared_console: Console) -> None:
    for viewport, shot in ((LAPTOP, "dashboard.png"), (PHONE, None)):
        context = await browser.new_context(viewport=viewport, locale="en-GB", timezone_id="UTC")
        page = await context.new_page()
        try:
            await sign_in(page, shared_console, "viewer")
            await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            await expect(page.locator("#open-h")).to_have_text(
                re.compile(r"^[1-9]\d* open issues?$")
            )
            by_account = page.locator("section:has(#acct-h) table tbody")
            await expect(by_account).to_contain_text("prod")
            changes = page.locator("ol.feed > li")
            await expect(changes.first).to_contain_text("payments-web")
            await expect(changes.first).to_contain_text(estate.OFFICE_SSH)
            failing = page.locator("table.health tr.failing")
            await expect(failing).to_have_count(1)
            await expect(failing).to_contain_text("AccessDenied")
            await expect(failing).to_contain_text("eu-west-1")
            # nothing wider than the screen but the tables' own scroll areas
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the page scrolls sideways by {overflow}px at {viewport}"
            if shot:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SCREENSHOTS / shot), full_page=True)
        finally:
            await context.close()


async def test_keyboard_reaches_every_main_page(page: Page, shared_console: Console) -> None:
    await sign_in(page, shared_console, "viewer")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.goto(f"{shared_console.url}/")
    seen = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        seen.append(await page.evaluate("document.activeElement.textContent.trim()"))
    for label in ("Dashboard", "Groups", "Search", "Issues", "Compliance", "Sign out"):
        assert label in seen, f"{label} is not reachable with Tab: {seen}"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
