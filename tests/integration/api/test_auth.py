"""Who may do what: no key or a wrong key is 401, a too-weak role is 403, on every route."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.api.auth import KeyVerifier, create_key
from secmonkey.common.storage import Database
from tests.integration.api import harness

pytestmark = pytest.mark.integration

ISSUE = "0" * 32
ACCOUNT = {"id": "333333333333", "name": "matrix"}
SUBSCRIPTION = {"name": "m", "channel": {"type": "email", "to": ["a@example.com"]}}

# (method, path, body, weakest role allowed)
ROUTES: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/groups", None, "viewer"),
    ("GET", "/api/v1/groups/resolve?ids=sg-0123", None, "viewer"),
    ("GET", "/api/v1/groups/sg-0123", None, "viewer"),
    ("GET", "/api/v1/groups/sg-0123/revisions", None, "viewer"),
    ("GET", "/api/v1/groups/sg-0123/revisions/1", None, "viewer"),
    ("GET", "/api/v1/groups/sg-0123/at?time=2026-01-01T00:00:00Z", None, "viewer"),
    ("GET", "/api/v1/groups/sg-0123/diff?from=1", None, "viewer"),
    ("GET", "/api/v1/search/ip?ip=10.0.0.1", None, "viewer"),
    ("GET", "/api/v1/search/cidr?cidr=10.0.0.0/8", None, "viewer"),
    ("GET", "/api/v1/issues", None, "viewer"),
    ("GET", f"/api/v1/issues/{ISSUE}", None, "viewer"),
    ("GET", "/api/v1/report", None, "viewer"),
    ("GET", "/api/v1/events", None, "viewer"),
    ("GET", "/api/v1/accounts", None, "viewer"),
    ("GET", "/api/v1/allowlist", None, "viewer"),
    ("PUT", f"/api/v1/issues/{ISSUE}/justification", {"reason": "accepted risk"}, "auditor"),
    ("DELETE", f"/api/v1/issues/{ISSUE}/justification", None, "auditor"),
    ("POST", "/api/v1/accounts", ACCOUNT, "admin"),
    ("PUT", "/api/v1/accounts/333333333333", {"name": "x"}, "admin"),
    ("DELETE", "/api/v1/accounts/444444444444", None, "admin"),
    ("GET", "/api/v1/subscriptions", None, "admin"),
    ("POST", "/api/v1/subscriptions", SUBSCRIPTION, "admin"),
    ("POST", "/api/v1/subscriptions/nope/test", None, "admin"),
    ("PUT", "/api/v1/allowlist/office", {"cidr": "203.0.113.0/24"}, "admin"),
    ("DELETE", "/api/v1/allowlist/nothing", None, "admin"),
    ("GET", "/api/v1/keys", None, "admin"),
    ("POST", "/api/v1/keys", {"name": "another", "role": "viewer"}, "admin"),
    ("POST", "/api/v1/sweeps", {"account_id": "999999999999"}, "admin"),
]
RANK = {"viewer": 0, "auditor": 1, "admin": 2}


async def _keys(admin: httpx.AsyncClient) -> dict[str, str]:
    made = {"admin": harness.ADMIN_KEY}
    for role in ("viewer", "auditor"):
        response = await admin.post("/api/v1/keys", json={"name": role, "role": role})
        assert response.status_code == 201
        made[role] = response.json()["key"]
    return made


async def test_every_route_enforces_its_role(
    scratch_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    keys = await _keys(admin)
    for method, path, body, needed in ROUTES:
        for role, key in keys.items():
            async with harness.client_for(scratch_app, key) as client:
                response = await client.request(method, path, json=body)
            if RANK[role] < RANK[needed]:
                assert response.status_code == 403, (method, path, role, response.text)
                problem = response.json()
                assert problem["status"] == 403 and needed in problem["detail"]
                assert response.headers["content-type"] == "application/problem+json"
            else:
                assert response.status_code not in (401, 403), (method, path, role, response.text)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer smk_not-a-key"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
)
async def test_missing_or_wrong_key_is_401_with_a_challenge(
    scratch_app: FastAPI, headers: dict[str, str]
) -> None:
    async with harness.client_for(scratch_app, None) as client:
        for method, path, body, _ in ROUTES:
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["title"] == "Unauthorized"


async def test_health_readiness_and_metrics_need_no_key(scratch_app: FastAPI) -> None:
    async with (
        harness.ops_client(scratch_app) as client,
        harness.client_for(scratch_app, None) as api,
    ):
        assert (await client.get("/healthz")).status_code == 200
        for _ in range(3):  # like a probe's failure threshold: a busy shared server may lag
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["mongodb"] == "ok"
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200
        await api.get("/api/v1/groups")
        metrics = await client.get("/metrics")
        assert 'secmonkey_api_request_seconds_count{method="GET",route="/api/v1/groups"' in (
            metrics.text
        )


async def test_keys_are_stored_hashed_and_a_disabled_key_stops_working(
    scratch_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    db: Database = scratch_app.state.runtime.db
    created = (await admin.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})).json()
    stored = await db.api_keys.find_one({"_id": created["id"]})
    assert stored is not None
    assert created["key"] not in str(stored)  # only the hash and a short prefix are kept
    assert stored["prefix"] == created["key"][:10]
    async with harness.client_for(scratch_app, created["key"]) as viewer:
        assert (await viewer.get("/api/v1/groups")).status_code == 200
        response = await admin.patch(f"/api/v1/keys/{created['id']}", json={"enabled": False})
        assert response.status_code == 200 and response.json()["enabled"] is False
        assert (await viewer.get("/api/v1/groups")).status_code == 401
    listed = (await admin.get("/api/v1/keys")).json()
    assert all("key" not in k and "hash" not in k for k in listed)
    one = (await admin.get(f"/api/v1/keys/{created['id']}")).json()
    assert one["name"] == "ci" and one["enabled"] is False and "hash" not in one
    renamed = await admin.patch(f"/api/v1/keys/{created['id']}", json={"name": "ci-2"})
    assert renamed.json()["name"] == "ci-2"
    assert (await admin.get("/api/v1/keys/0123abcd")).status_code == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"name": "x", "role": "root"}, "body.role"),
        ({"name": "", "role": "viewer"}, "body.name"),
        ({"name": "has/slash", "role": "viewer"}, "body.name"),
        ({"role": "viewer"}, "body.name"),
    ],
)
async def test_bad_keys_are_refused(
    admin: httpx.AsyncClient, body: dict[str, str], says: str
) -> None:
    response = await admin.post("/api/v1/keys", json=body)
    assert response.status_code == 422 and says in response.json()["detail"]


async def test_the_last_admin_key_cannot_be_removed(fresh_app: FastAPI) -> None:
    async with harness.client_for(fresh_app) as admin:
        await _last_admin_survives(fresh_app, admin)


async def _last_admin_survives(app: FastAPI, admin: httpx.AsyncClient) -> None:
    keys = (await admin.get("/api/v1/keys")).json()
    (bootstrap,) = [k for k in keys if k["name"] == "bootstrap"]
    response = await admin.delete(f"/api/v1/keys/{bootstrap['id']}")
    assert response.status_code == 409
    assert "last enabled admin key" in response.json()["detail"]
    response = await admin.patch(f"/api/v1/keys/{bootstrap['id']}", json={"role": "viewer"})
    assert response.status_code == 409
    other = (await admin.post("/api/v1/keys", json={"name": "second", "role": "admin"})).json()
    assert (await admin.delete(f"/api/v1/keys/{bootstrap['id']}")).status_code == 204
    async with harness.client_for(app, other["key"]) as second:
        assert (await second.get("/api/v1/keys")).status_code == 200


async def test_verifier_caches_for_the_configured_time(scratch_app: FastAPI) -> None:
    db: Database = scratch_app.state.runtime.db
    verifier = KeyVerifier(db, cache_seconds=60)
    doc, key = await create_key(db, "cached", "auditor")
    principal = await verifier.verify(key)
    assert principal is not None and principal.role == "auditor"
    await db.api_keys.delete_one({"_id": doc.id})
    assert await verifier.verify(key) is not None  # still trusted within the cache time
    verifier.forget()
    assert await verifier.verify(key) is None


async def test_a_first_admin_key_from_the_command_line(
    mongo_url: str, amqp_url: str, db: Database, db_name: str
) -> None:
    env = os.environ | {"SECMONKEY_MONGO_URL": mongo_url, "SECMONKEY_MONGO_DB": db_name}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "secmonkey.api", "create-key", "--role", "admin", "--name", "ops"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("smk_") and "shown only now" in done.stderr
    settings = harness.settings_for(mongo_url, amqp_url, db_name, bootstrap_admin_key=None)
    async with harness.running(settings) as app, harness.client_for(app, key) as ops:
        listed = (await ops.get("/api/v1/keys")).json()
        assert [(k["name"], k["role"]) for k in listed] == [("ops", "admin")]


async def test_the_bootstrap_key_is_created_once(
    fresh_app: FastAPI, db: Database, mongo_url: str, amqp_url: str, db_name: str
) -> None:
    async with harness.running(harness.settings_for(mongo_url, amqp_url, db_name)):
        pass  # a second replica starting with the same bootstrap key
    assert await db.api_keys.count_documents({"name": "bootstrap"}) == 1


async def test_a_revoked_bootstrap_key_does_not_return_at_restart(
    fresh_app: FastAPI, db: Database, mongo_url: str, amqp_url: str, db_name: str
) -> None:
    async with harness.client_for(fresh_app) as admin:
        await _last_admin_survives(fresh_app, admin)  # ends with the bootstrap key deleted
    async with harness.running(harness.settings_for(mongo_url, amqp_url, db_name)):
        pass  # a restart with SECMONKEY_BOOTSTRAP_ADMIN_KEY still set
    assert await db.api_keys.count_documents({"name": "bootstrap"}) == 0
