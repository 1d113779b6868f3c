"""Accounts, the allowlist, subscriptions and sweeps: create, read, update, delete, and refuse
bad input with a problem document that says what was wrong."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from secmonkey.common import sealed
from secmonkey.common.delivery_schedule import Delivery
from secmonkey.common.documents import Account
from secmonkey.common.messages import SweepRequest
from secmonkey.common.storage import Database
from tests.integration.api import harness

pytestmark = pytest.mark.integration


def _account_id() -> str:
    return str(uuid.uuid4().int)[:12].rjust(12, "7")


async def test_account_lifecycle(admin: httpx.AsyncClient) -> None:
    account_id = _account_id()
    body = {
        "id": account_id,
        "name": "payments",
        "role_arn": f"arn:aws:iam::{account_id}:role/secmonkey-audit",
        "external_id": "ext-123456",
        "regions": ["us-east-1", "eu-west-1"],
        "labels": ["pci"],
    }
    created = await admin.post("/api/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["regions"] == ["us-east-1", "eu-west-1"]
    again = await admin.post("/api/v1/accounts", json=body)
    assert again.status_code == 409 and "already exists" in again.json()["detail"]

    fetched = (await admin.get(f"/api/v1/accounts/{account_id}")).json()
    assert fetched["name"] == "payments" and fetched["labels"] == ["pci"]
    assert account_id in [a["id"] for a in (await admin.get("/api/v1/accounts")).json()]

    update = {"name": "payments-eu", "regions": ["eu-west-1"], "trusted": True}
    updated = await admin.put(f"/api/v1/accounts/{account_id}", json=update)
    assert updated.status_code == 200
    assert updated.json()["name"] == "payments-eu" and updated.json()["trusted"] is True
    assert (await admin.get(f"/api/v1/accounts/{account_id}")).json()["regions"] == ["eu-west-1"]

    assert (await admin.delete(f"/api/v1/accounts/{account_id}")).status_code == 204
    gone = await admin.get(f"/api/v1/accounts/{account_id}")
    assert gone.status_code == 404 and account_id in gone.json()["detail"]
    assert (await admin.delete(f"/api/v1/accounts/{account_id}")).status_code == 404


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"id": "12345", "name": "short"}, "body.id"),
        ({"id": "123456789012", "name": "x", "regions": ["mars-1"]}, "body.regions"),
        ({"id": "123456789012", "name": "x", "role_arn": "arn:aws:s3:::bucket"}, "body.role_arn"),
        ({"id": "123456789012"}, "body.name"),
    ],
)
async def test_bad_accounts_are_refused_with_the_field_named(
    admin: httpx.AsyncClient, body: dict[str, object], where: str
) -> None:
    response = await admin.post("/api/v1/accounts", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity"
    assert any(p["name"].startswith(where) for p in problem["invalid-params"]), problem
    assert where in problem["detail"]


async def test_malformed_json_is_a_problem_too(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/api/v1/accounts", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_allowlist_lifecycle_and_bad_cidrs(admin: httpx.AsyncClient) -> None:
    name = f"office-{uuid.uuid4().hex[:6]}"
    put = await admin.put(
        f"/api/v1/allowlist/{name}", json={"cidr": "203.0.113.0/24", "description": "HQ"}
    )
    assert put.status_code == 200 and put.json() == {
        "name": name,
        "cidr": "203.0.113.0/24",
        "description": "HQ",
    }
    replaced = await admin.put(f"/api/v1/allowlist/{name}", json={"cidr": "2001:db8::/32"})
    assert replaced.json()["cidr"] == "2001:db8::/32"
    assert (await admin.get(f"/api/v1/allowlist/{name}")).json()["cidr"] == "2001:db8::/32"
    assert name in [e["name"] for e in (await admin.get("/api/v1/allowlist")).json()]
    for cidr, reason in (
        ("10.0.0.1/8", "host bits"),
        ("300.0.0.0/8", "invalid IP address"),
        ("10.0.0.0/33", "exceeds /32"),
    ):
        bad = await admin.put(f"/api/v1/allowlist/{name}", json={"cidr": cidr})
        assert bad.status_code == 422 and reason in bad.json()["detail"], bad.text
    assert (await admin.delete(f"/api/v1/allowlist/{name}")).status_code == 204
    assert (await admin.get(f"/api/v1/allowlist/{name}")).status_code == 404
    created = await admin.post("/api/v1/allowlist", json={"name": name, "cidr": "192.0.2.0/24"})
    assert created.status_code == 201 and created.json()["cidr"] == "192.0.2.0/24"
    twice = await admin.post("/api/v1/allowlist", json={"name": name, "cidr": "192.0.2.0/24"})
    assert twice.status_code == 409 and "exists" in twice.json()["detail"]
    bad_name = await admin.post("/api/v1/allowlist", json={"name": "a/b", "cidr": "192.0.2.0/24"})
    assert bad_name.status_code == 422 and "body.name" in bad_name.json()["detail"]


async def test_subscription_lifecycle_keeps_the_secret_write_only(
    scratch_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    body = {
        "name": "soc webhook",
        "channel": {
            "type": "generic",
            "url": "https://hooks.example.com/secmonkey/T0KEN",
            "secret": "s3cret-signing-key-0123",
        },
        "filters": {"event_types": ["issue.*"], "min_severity": "high", "account_ids": []},
    }
    created = await admin.post("/api/v1/subscriptions", json=body)
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["channel"]["has_secret"] is True and "secret" not in view["channel"]
    sub_id = view["id"]
    stored = await scratch_app.state.runtime.db.subscriptions.find_one({"_id": sub_id})
    # sealed at rest (secmonkey.common.sealed): the notifier opens it
    assert stored["channel"]["secret"].startswith("fernet:")
    assert sealed.keyring().open(stored["channel"]["secret"]) == "s3cret-signing-key-0123"

    body["name"] = "soc webhook v2"
    del body["channel"]["secret"]  # type: ignore[attr-defined]
    updated = await admin.put(f"/api/v1/subscriptions/{sub_id}", json=body)
    assert updated.status_code == 200 and updated.json()["channel"]["has_secret"] is True
    assert (await admin.get(f"/api/v1/subscriptions/{sub_id}")).json()["name"] == "soc webhook v2"
    assert sub_id in [s["id"] for s in (await admin.get("/api/v1/subscriptions")).json()]
    assert (await admin.delete(f"/api/v1/subscriptions/{sub_id}")).status_code == 204
    assert (await admin.get(f"/api/v1/subscriptions/{sub_id}")).status_code == 404


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ({"type": "slack", "url": "https://169.254.169.254/latest"}, "metadata"),
        ({"type": "slack", "url": "http://hooks.example.com/x"}, "https"),
        ({"type": "teams", "url": "https://127.0.0.1/x"}, "loopback"),
        ({"type": "slack", "url": "https://10.1.2.3/x"}, "private"),
        ({"type": "slack", "url": "https://user:pw@hooks.example.com/x"}, "credentials"),
        ({"type": "generic", "url": "https://hooks.example.com/x"}, "secret"),
        ({"type": "slack"}, "needs a webhook URL"),
        ({"type": "email", "to": []}, "recipient"),
        ({"type": "email", "to": ["not-an-address"]}, "not email addresses"),
    ],
)
async def test_unsafe_or_incomplete_channels_are_refused(
    admin: httpx.AsyncClient, channel: dict[str, object], reason: str
) -> None:
    response = await admin.post("/api/v1/subscriptions", json={"name": "bad", "channel": channel})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


async def test_unknown_event_types_are_refused(admin: httpx.AsyncClient) -> None:
    body = {
        "name": "typo",
        "channel": {"type": "email", "to": ["sec@example.com"]},
        "filters": {"event_types": ["issue.opend"]},
    }
    response = await admin.post("/api/v1/subscriptions", json=body)
    assert response.status_code == 422 and "issue.opend" in response.json()["detail"]


async def test_testing_a_subscription_queues_a_delivery_for_it_alone(
    scratch_app: FastAPI, admin: httpx.AsyncClient
) -> None:
    from secmonkey.notifier.deliveries import DeliveryStore

    body = {"name": "mail", "channel": {"type": "email", "to": ["sec@example.com"]}}
    sub_id = (await admin.post("/api/v1/subscriptions", json=body)).json()["id"]
    response = await admin.post(f"/api/v1/subscriptions/{sub_id}/test")
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]
    db: Database = scratch_app.state.runtime.db
    # The notifier's own code finds it due in its outbox and reads it.
    store = DeliveryStore(db, writes=None)  # type: ignore[arg-type]  # due() only reads
    due = await store.due(datetime.now(UTC), limit=1000)
    (entry,) = [e for e in due if e["_id"] == f"test-{event_id}"]
    doc = await db.delivery_schedule.find_one({"_id": entry["_id"]})
    delivery = Delivery.model_validate(doc)
    assert delivery.subscription_id == sub_id and delivery.status == "pending"
    assert delivery.target == "sec@example.com" and delivery.target_key == doc["target_key"]
    assert delivery.parsed_events()[0].event_id == event_id
    assert (await admin.post("/api/v1/subscriptions/nope/test")).status_code == 404


async def test_sweep_requests_reach_the_sweeps_queue(
    scratch_app: FastAPI, admin: httpx.AsyncClient, rabbit: AbstractRobustConnection
) -> None:
    queue_name = scratch_app.state.settings.sweeps_queue
    channel = await rabbit.channel()
    queue = await channel.declare_queue(queue_name, auto_delete=True)
    try:
        account_id = _account_id()
        await admin.post("/api/v1/accounts", json={"id": account_id, "name": "sweepme"})
        response = await admin.post(
            "/api/v1/sweeps", json={"account_id": account_id, "regions": ["us-west-2"]}
        )
        assert response.status_code == 202, response.text
        (queued,) = response.json()["sweeps"]
        message = await queue.get(timeout=10)
        await message.ack()
        request = SweepRequest.model_validate(json.loads(message.body))
        assert request.sweep_id == queued["sweep_id"]
        assert message.message_id == f"{request.sweep_id}:{account_id}"
        assert request.account_id == account_id and request.regions == ["us-west-2"]
        assert request.reason == "api:bootstrap"
        # On record for `GET /sweeps/{id}` at once, as when the collector is asked.
        db: Database = scratch_app.state.runtime.db
        header = await db.sweeps.find_one({"_id": request.sweep_id})
        assert header is not None and header["kind"] == "sweep"
        assert header["account_ids"] == [account_id] and header["regions"] == ["us-west-2"]
        assert header["reason"] == "api:bootstrap" and header["requested_by"] == "bootstrap"

        unknown = await admin.post("/api/v1/sweeps", json={"account_id": "999999999999"})
        assert unknown.status_code == 422 and "not a configured account" in unknown.json()["detail"]
        bad_region = await admin.post(
            "/api/v1/sweeps", json={"account_id": account_id, "regions": ["nowhere"]}
        )
        assert bad_region.status_code == 422
        with pytest.raises(aio_pika.exceptions.QueueEmpty):
            await queue.get(timeout=1)
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await channel.close()


async def test_a_sweep_of_every_account_is_one_sweep_of_the_monitored_ones(
    fresh_app: FastAPI, db: Database, rabbit: AbstractRobustConnection
) -> None:
    queue_name = fresh_app.state.settings.sweeps_queue
    channel = await rabbit.channel()
    queue = await channel.declare_queue(queue_name, auto_delete=True)
    plain, with_role, partner, disabled = (_account_id() for _ in range(4))
    accounts = [
        Account(id=plain, name="plain"),
        Account(
            id=with_role,
            name="partner we read",
            trusted=True,
            role_arn=f"arn:aws:iam::{with_role}:role/secmonkey-audit",
        ),
        Account(id=partner, name="partner", trusted=True),
        Account(id=disabled, name="old", enabled=False),
    ]
    await db.accounts.insert_many([a.to_mongo() for a in accounts])
    try:
        async with harness.client_for(fresh_app) as admin:
            response = await admin.post("/api/v1/sweeps", json={})
            assert response.status_code == 202, response.text
            queued = response.json()["sweeps"]
            assert sorted(q["account_id"] for q in queued) == sorted([plain, with_role])
            (sweep_id,) = {q["sweep_id"] for q in queued}
            messages = [await queue.get(timeout=10) for _ in queued]
            for message in messages:
                await message.ack()
            requests = [SweepRequest.model_validate(json.loads(m.body)) for m in messages]
            assert {r.sweep_id for r in requests} == {sweep_id}
            header = await db.sweeps.find_one({"_id": sweep_id})
            assert header is not None
            assert sorted(header["account_ids"]) == sorted([plain, with_role])

            for refused in (partner, disabled):
                answer = await admin.post("/api/v1/sweeps", json={"account_id": refused})
                assert answer.status_code == 422
                assert f"account {refused} is disabled or not monitored" in answer.json()["detail"]
        with pytest.raises(aio_pika.exceptions.QueueEmpty):
            await queue.get(timeout=1)
    finally:
        await queue.delete(if_unused=False, if_empty=False)
        await channel.close()
