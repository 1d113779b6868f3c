# ruff: noqa: F811  (fixtures imported from tests.security.doors_support)
"""Browser-facing answers: a Content-Security-Policy and framing headers on every HTML page
(the API's HTML report included), API docs with nothing from a third-party origin, and the
console published by the Kubernetes ingress."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI

from tests.integration.api import harness
from tests.security.doors_support import doors_app, role_keys  # noqa: F401

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _assert_browser_headers(headers: object, path: str) -> str:
    h = dict(headers)  # type: ignore[call-overload]
    policy = h.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, (path, policy)
    assert "default-src 'none'" in policy, (path, policy)
    assert h.get("x-frame-options") == "DENY", path
    assert h.get("x-content-type-options") == "nosniff", path
    assert h.get("referrer-policy") in ("same-origin", "no-referrer"), path
    return str(policy)


async def test_html_report_of_the_api_has_csp_and_no_framing(
    doors_app: FastAPI, role_keys: dict[str, str]
) -> None:
    async with harness.client_for(doors_app, role_keys["viewer"]) as viewer:
        answer = await viewer.get("/api/v1/report", params={"format": "html"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    policy = _assert_browser_headers(answer.headers, "report")
    assert "script-src" not in policy, "the report runs no script at all"


async def test_every_html_answer_carries_csp_and_framing_headers(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        for path in ("/docs", "/console/login", "/console/no-such-page"):
            answer = await anonymous.get(path)
            assert answer.headers["content-type"].startswith("text/html"), path
            _assert_browser_headers(answer.headers, path)
        problem = await anonymous.get("/api/v1/groups")
        assert problem.headers["x-content-type-options"] == "nosniff"


async def test_api_docs_load_nothing_from_a_cdn(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        assert (await anonymous.get("/redoc")).status_code == 404, "ReDoc calls its CDN"
        for path in ("/docs",):
            page = await anonymous.get(path)
            assert page.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert sources, path
            assert not [s for s in sources if "//" in s], f"{path} loads {sources}"
            assert "<script>" not in page.text, "no inline script: the CSP forbids it"
            for source in sources:
                asset = await anonymous.get(source)
                assert asset.status_code == 200, source
                assert len(asset.content) > 100, source
            policy = page.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "http" not in policy


def test_kubernetes_ingress_routes_the_console() -> None:
    manifest = yaml.safe_load((ROOT / "deploy/k8s/components/ingress/ingress.yaml").read_text())
    paths = {p["path"] for rule in manifest["spec"]["rules"] for p in rule["http"]["paths"]}
    assert {"/console", "/api", "/docs", "/docs-assets", "/openapi.json"} <= paths
    assert not {"/metrics", "/healthz", "/readyz"} & paths
