# ruff: noqa: F811  (fixtures imported from tests.security.doors_support)
"""Input hardening: hostile input gets a clear 4xx, never a 500 and never silently ignored."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from fastapi import FastAPI

from secmonkey.common.email_address import is_email_address
from secmonkey.common.errors import InvalidInput
from secmonkey.common.webhooks import validate_webhook_url
from tests.integration.api import harness
from tests.security.doors_support import doors_app, role_keys  # noqa: F401
from tests.support.estate import PROD, WEB

pytestmark = pytest.mark.integration


def _client(app: FastAPI, key: str = harness.ADMIN_KEY) -> httpx.AsyncClient:
    return harness.client_for(app, key)


async def test_superscript_two_in_cidr_is_422(
    doors_app: FastAPI, role_keys: dict[str, str]
) -> None:
    async with _client(doors_app, role_keys["viewer"]) as viewer:
        for path in ("/api/v1/search/cidr?cidr=1.2.3.4/²", "/api/v1/search/cidr?cidr=10.0.0.0/¹⁶"):
            answer = await viewer.get(path)
            assert answer.status_code == 422, (path, answer.text)
            assert "not a number" in answer.json()["detail"]


async def test_superscript_two_in_diff_from_is_422(
    doors_app: FastAPI, role_keys: dict[str, str]
) -> None:
    async with _client(doors_app, role_keys["viewer"]) as viewer:
        answer = await viewer.get(f"/api/v1/groups/{WEB}/diff", params={"from": "²"})
    assert answer.status_code == 422, answer.text


async def test_cursor_integer_above_2_63_is_422(
    doors_app: FastAPI, role_keys: dict[str, str]
) -> None:
    cursors = [
        {"r": 2**64, "i": "x"},  # issues: severity rank
        {"s": 2**70},  # revisions and other numeric positions
        {"k": "x", "n": -(2**63) - 1},
    ]
    async with _client(doors_app, role_keys["viewer"]) as viewer:
        for position in cursors:
            raw = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
            for path in ("/api/v1/issues", "/api/v1/events", f"/api/v1/groups/{WEB}/revisions"):
                answer = await viewer.get(path, params={"cursor": raw})
                assert answer.status_code == 422, (path, position, answer.text)


async def test_200kb_email_address_is_refused_by_a_linear_check(doors_app: FastAPI) -> None:
    hostile = "a" * 100_000 + "@" + "b." * 50_000
    assert not is_email_address(hostile)  # no regular expression to backtrack through
    assert not is_email_address("a@b.c\r\nBcc: victim@example.com")
    assert is_email_address("sec-team+alerts@example.com")
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/subscriptions",
            json={"name": "x", "channel": {"type": "email", "to": [hostile[:200_000]]}},
        )
    assert answer.status_code == 413 or answer.status_code == 422, answer.text


async def test_crlf_in_email_recipient_is_422(doors_app: FastAPI) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/subscriptions",
            json={
                "name": "x",
                "channel": {"type": "email", "to": ["a@example.com\r\nBcc: b@example.com"]},
            },
        )
    assert answer.status_code == 422, answer.text


async def test_patch_key_with_unknown_field_disabled_is_422(doors_app: FastAPI) -> None:
    async with _client(doors_app) as admin:
        created = await admin.post("/api/v1/keys", json={"name": "to-disable", "role": "viewer"})
        assert created.status_code == 201, created.text
        key_id = created.json()["id"]
        answer = await admin.patch(f"/api/v1/keys/{key_id}", json={"disabled": True})
        assert answer.status_code == 422, answer.text
        assert "disabled" in answer.text
        still = await admin.get("/api/v1/keys")
        assert next(k for k in still.json() if k["id"] == key_id)["enabled"] is True


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/accounts", {"id": "333333333333", "name": "x", "role": "admin"}),
        ("/api/v1/allowlist", {"name": "office", "cidr": "10.0.0.0/8", "forced": True}),
        ("/api/v1/sweeps", {"account_id": PROD, "everything": True}),
        ("/api/v1/keys", {"name": "k", "role": "viewer", "expires": "never"}),
        (
            "/api/v1/subscriptions",
            {
                "name": "s",
                "channel": {"type": "email", "to": ["a@example.com"], "cc": ["b@example.com"]},
            },
        ),
    ],
)
async def test_unknown_field_in_any_request_body_is_422(
    doors_app: FastAPI, path: str, body: dict[str, object]
) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(path, json=body)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "filters",
    [
        {"regions": ["moon-1"]},
        {"regions": ["us-moon-1"]},
        {"account_ids": ["12345"]},
        {"rule_ids": ["<script>"]},
        {"event_types": ["group.exploded"]},
        {"account_labels": ["a" * 500]},
        {"severity": "high"},  # a misspelt `min_severity`
        {"regions": ["us-east-1"] * 101},
    ],
)
async def test_subscription_filter_with_bad_value_or_unknown_field_is_422(
    doors_app: FastAPI, filters: dict[str, object]
) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/subscriptions",
            json={"name": "s", "filters": filters, "channel": {"type": "email", "to": ["a@b.co"]}},
        )
    assert answer.status_code == 422, answer.text


async def test_role_arn_of_another_account_is_422(doors_app: FastAPI) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/accounts",
            json={
                "id": "444444444444",
                "name": "victim",
                "role_arn": "arn:aws:iam::555555555555:role/secmonkey-monitor",
            },
        )
        assert answer.status_code == 422, answer.text
        assert "not in account 444444444444" in answer.json()["detail"]
        replaced = await admin.put(
            f"/api/v1/accounts/{PROD}",
            json={"name": "prod", "role_arn": "arn:aws:iam::555555555555:role/secmonkey-monitor"},
        )
        assert replaced.status_code == 422, replaced.text


async def test_made_up_region_in_a_sweep_request_is_422(doors_app: FastAPI) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/sweeps", json={"account_id": PROD, "regions": ["xx-fake-9"]}
        )
        assert answer.status_code == 422, answer.text
        assert "xx-fake-9" in answer.text


async def test_unbounded_region_list_in_a_sweep_request_is_422(doors_app: FastAPI) -> None:
    async with _client(doors_app) as admin:
        answer = await admin.post(
            "/api/v1/sweeps", json={"account_id": PROD, "regions": ["us-east-1"] * 10_000}
        )
        assert answer.status_code == 422, answer.text
        accounts = await admin.post("/api/v1/sweeps", json={"account_ids": [PROD] * 5000})
        assert accounts.status_code == 422, accounts.text


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix -> 169.254.169.254
        "64:ff9b:1::a9fe:a9fe",  # NAT64 local-use prefix (64:ff9b:1::/48)
        "::ffff:a9fe:a9fe",  # IPv4-mapped
        "::ffff:0:a9fe:a9fe",  # IPv4-translated
        "::a9fe:a9fe",  # IPv4-compatible
        "2002:a9fe:a9fe::1",  # 6to4
        "64:ff9b:1::808:808",  # NAT64 of a public address: still an IPv4 in disguise
    ],
)
def test_nat64_and_ipv4_mapped_webhook_targets_are_refused(address: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(InvalidInput, match="embeds the IPv4 address"):
            validate_webhook_url(
                f"https://[{address}]/hook",
                allow_http=False,
                allow_private=allow_private,
                resolve=False,
            )
