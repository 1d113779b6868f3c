"""An admin opts an account into Security Hub with its writer role; a role of another
account, or a malformed one, is refused with a clear 422 (never stored, never a 500)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.test_admin import _account_id

pytestmark = pytest.mark.integration


async def test_opting_in_stores_the_writer_role_and_refuses_another_accounts(
    admin: httpx.AsyncClient,
) -> None:
    account_id, other = _account_id(), _account_id()
    writer = f"arn:aws:iam::{account_id}:role/secmonkey-writer"
    body = {
        "id": account_id,
        "name": "cardholder",
        "role_arn": f"arn:aws:iam::{account_id}:role/secmonkey-monitor",
        "external_id": "ext-123456",
        "security_hub": {"role_arn": writer, "region": "eu-west-1"},
    }
    created = await admin.post("/api/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["security_hub"] == {
        "enabled": True,
        "role_arn": writer,
        "region": "eu-west-1",
    }
    fetched = (await admin.get(f"/api/v1/accounts/{account_id}")).json()
    assert fetched["security_hub"]["role_arn"] == writer

    foreign = {
        "name": "cardholder",
        "security_hub": {"role_arn": writer.replace(account_id, other)},
    }
    refused = await admin.put(f"/api/v1/accounts/{account_id}", json=foreign)
    assert refused.status_code == 422, refused.text
    assert f"belongs to account {other}" in refused.json()["detail"]
    assert (await admin.get(f"/api/v1/accounts/{account_id}")).json()["security_hub"][
        "role_arn"
    ] == writer

    new = {**body, "id": other, "security_hub": {"role_arn": writer}}
    assert (await admin.post("/api/v1/accounts", json=new)).status_code == 422
    for bad in ({"role_arn": "not-an-arn"}, {"role_arn": writer, "bucket": "x"}, {}):
        response = await admin.put(
            f"/api/v1/accounts/{account_id}", json={"name": "c", "security_hub": bad}
        )
        assert response.status_code == 422, (bad, response.text)

    off = await admin.put(
        f"/api/v1/accounts/{account_id}",
        json={"name": "cardholder", "security_hub": {"role_arn": writer, "enabled": False}},
    )
    assert off.status_code == 200 and off.json()["security_hub"]["enabled"] is False
    removed = await admin.put(f"/api/v1/accounts/{account_id}", json={"name": "cardholder"})
    assert removed.status_code == 200 and removed.json()["security_hub"] is None
