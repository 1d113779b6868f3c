"""The compliance page in headless Chromium: an auditor opens Compliance, picks a
framework and sees each control with its rules and, per account, how many groups pass
and fail; a failing count leads to the issues behind it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from tests.integration.web.conftest import Console, sign_in

pytestmark = pytest.mark.integration


async def test_each_control_shows_its_rules_and_counts_per_account(
    page: Page, shared_console: Console
) -> None:
    await sign_in(page, shared_console, "viewer")
    await page.get_by_role("link", name="Compliance").click()
    await page.wait_for_url(re.compile(r"/console/compliance/cis$"))
    await page.get_by_role("link", name="NIST SP 800-53 Rev. 5").click()
    await expect(page.get_by_role("heading", name="NIST SP 800-53 Rev. 5", level=2)).to_be_visible()
    sc7 = page.locator("table.compliance tbody tr").filter(has_text="Boundary Protection").first
    await expect(sc7).to_contain_text("internet-all-ports")
    await expect(sc7).to_contain_text("fail")
    ac17 = page.locator("table.compliance tbody tr").filter(has_text="Remote Access")
    await expect(ac17).to_contain_text("internet-admin-port")
    await expect(page.get_by_role("columnheader", name=re.compile("prod"))).to_be_visible()

    # a failing count opens the issues of that account and control
    failing = page.locator("table.compliance tbody tr").filter(has_text="SC-7").first
    await failing.get_by_role("link", name=re.compile(r"\d+ fail")).first.click()
    await page.wait_for_url(re.compile(r"/console/issues\?.*compliance=NIST"))
    await expect(page.locator("main")).to_contain_text("Issues")


async def test_an_unknown_framework_is_a_clear_not_found(
    page: Page, shared_console: Console
) -> None:
    await sign_in(page, shared_console, "viewer")
    response = await page.goto(f"{shared_console.url}/compliance/iso-27001")
    assert response is not None and response.status == 404
    await expect(page.locator("main")).to_contain_text("no compliance framework")
