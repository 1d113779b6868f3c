# ruff: noqa: F811  (fixtures imported from tests.security.doors_support)
"""Every door: limits before authentication, bounded metric labels, no sweep endpoint on the
collector's port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.api import metrics
from tests.integration.api import harness
from tests.security.doors_support import doors_app, role_keys  # noqa: F401

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


def _series(name: str) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in metrics.REQUEST_SECONDS.collect()
        for sample in family.samples
        if sample.name == name
    ]


async def test_10mb_body_rejected_before_auth(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        answer = await anonymous.post(
            "/api/v1/keys",
            content=b"x" * (10 * MIB),
            headers={"Content-Type": "application/json"},
        )
    # 413 (not 401): the size was judged before any authentication or parsing.
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


async def test_chunked_10mb_body_without_length_is_cut_at_the_cap(doors_app: FastAPI) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):
            sent += 64 * 1024
            yield b"x" * (64 * 1024)

    async with harness.client_for(doors_app, key=None) as anonymous:
        answer = await anonymous.post(
            "/api/v1/keys", content=body(), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert sent <= 2 * MIB, f"{sent} bytes were read before the refusal"


async def test_sign_in_form_with_1000_fields_refused(doors_app: FastAPI) -> None:
    form = "&".join(f"f{i}=v" for i in range(1000))
    async with harness.client_for(doors_app, key=None) as anonymous:
        answer = await anonymous.post(
            "/console/login",
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413


async def test_sign_in_form_field_of_1mb_refused(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        answer = await anonymous.post(
            "/console/login",
            content="key=" + "k" * 60_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413


async def test_made_up_http_method_does_not_grow_metrics(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        for i in range(20):
            await anonymous.request(f"FOO{i}", "/api/v1/groups")
            await anonymous.get(f"/no/such/path/{i}")
            await anonymous.get(f"/api/v1/groups/sg-{i:08x}")
    labels = _series("secmonkey_api_request_seconds_count")
    methods = {s["method"] for s in labels}
    routes = {s["route"] for s in labels}
    assert not any(m.startswith("FOO") for m in methods)
    assert "OTHER" in methods
    assert not any("/no/such/path" in r or "sg-0" in r for r in routes), routes


async def test_api_serves_no_probe_or_metrics_on_its_api_port(doors_app: FastAPI) -> None:
    async with harness.client_for(doors_app, key=None) as anonymous:
        for path in ("/metrics", "/healthz", "/readyz"):
            assert (await anonymous.get(path)).status_code == 404, path
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=doors_app.state.ops), base_url="http://ops"
    ) as ops:
        assert (await ops.get("/healthz")).status_code == 200
        assert "secmonkey_api_request_seconds" in (await ops.get("/metrics")).text


def test_collector_port_has_no_sweep_endpoint() -> None:
    from secmonkey.collector.app import create_app
    from secmonkey.collector.settings import Settings

    app = create_app(Settings())
    app.openapi_url = "/openapi.json"
    paths = set(app.openapi()["paths"])
    assert paths == {"/healthz", "/readyz", "/metrics", "/scheduler"}, paths
