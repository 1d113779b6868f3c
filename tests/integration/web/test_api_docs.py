"""The API docs in a real browser: Swagger UI renders under its strict Content-Security-Policy,
with every request on the API's own origin."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.integration.web.conftest import Console

pytestmark = pytest.mark.integration


async def test_api_docs_render_with_nothing_from_another_origin(
    shared_console: Console, page: Page
) -> None:
    path, ready = "/docs", ".swagger-ui .info"
    origin = shared_console.api.url
    requests: list[str] = []
    violations: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await page.goto(f"{origin}{path}")
    await page.wait_for_selector(ready, timeout=30_000)
    assert "secmonkey" in (await page.inner_text(ready)).lower()
    assert requests and all(r.startswith(origin) for r in requests), [
        r for r in requests if not r.startswith(origin)
    ]
    assert violations == []
