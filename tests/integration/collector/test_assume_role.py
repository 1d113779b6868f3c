"""An account whose role cannot be assumed: its regions are incomplete, the other is untouched.

moto enforces IAM here (its `reset-auth` switch): the hub is an IAM user holding exactly
deploy/iam's hub policy, each monitored account's role holds exactly deploy/iam's
read-only policy. So this also proves those policies are enough for a full sweep.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, fill_estate, role_arn
from secmonkey.common.documents import Account
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import (
    SnapshotSink,
    add_accounts,
    ask_sweep,
    random_account_ids,
    running,
    sweeps_api,
    wait_status,
)
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

REGIONS = ["us-east-1", "eu-west-1"]
HUB_POLICY = Path(__file__).resolve().parents[3] / "deploy" / "iam" / "secmonkey-hub-policy.json"


def _set_auth(moto: MotoServer, count: str) -> None:
    request = urllib.request.Request(
        f"{moto.url}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        # Not form-encoded, or the server parses the body away before moto reads it.
        headers={"Content-Type": "text/plain"},
    )
    urllib.request.urlopen(request, timeout=10).read()


@contextmanager
def iam_enforced(moto: MotoServer) -> Iterator[None]:
    """moto checks every request against IAM policies inside the block."""
    _set_auth(moto, "0")
    try:
        yield
    finally:
        _set_auth(moto, "inf")


async def test_unassumable_role_gives_incomplete_regions_and_the_other_account_is_swept(
    settings: Settings,
    db: Database,
    sink: SnapshotSink,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good, bad = random_account_ids(2)
    estate = fill_estate(moto.url, [good, bad], REGIONS, groups_per_region=6, seed=3)
    iam = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1")
    iam.create_user(UserName="secmonkey-hub")
    iam.put_user_policy(
        UserName="secmonkey-hub", PolicyName="hub", PolicyDocument=HUB_POLICY.read_text()
    )
    key = iam.create_access_key(UserName="secmonkey-hub")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    # A misspelt role name: the hub's policy does not allow it, STS answers AccessDenied.
    wrong_role = f"arn:aws:iam::{bad}:role/secmonkey-monitr"
    await add_accounts(
        db,
        [
            Account(id=good, name="good", role_arn=role_arn(good), external_id=EXTERNAL_ID),
            Account(id=bad, name="bad", role_arn=wrong_role, external_id=EXTERNAL_ID),
        ],
    )
    for account in (good, bad):
        await db.accounts.update_one({"_id": account}, {"$set": {"regions": REGIONS}})

    with iam_enforced(moto):
        async with running(settings) as client, sweeps_api(settings) as api:
            sweep_id = await ask_sweep(api, [good, bad])
            await sink.wait_completed(sweep_id, 4)
            status = await wait_status(api, sweep_id)
            metrics = (await client.get("/metrics")).text

    batches, completed = sink.of(sweep_id)
    by_region = {(c.account_id, c.region): c for c in completed}
    assert len(completed) == 4
    for region in REGIONS:
        ok = by_region[(good, region)]
        assert ok.complete and ok.error is None
        seen = [g.config.group_id for b in batches if b.region == region for g in b.groups]
        assert set(estate.groups[(good, region)]) <= set(seen)
        assert sorted(seen) == sorted(ok.group_ids)
        failed = by_region[(bad, region)]
        assert not failed.complete and failed.group_ids == []
        assert failed.error is not None and "AccessDenied" in failed.error
        assert wrong_role in failed.error
    assert {b.account_id for b in batches} == {good}

    assert status["status"] == "incomplete"
    accounts = {a["account_id"]: a for a in status["accounts"]}  # type: ignore[attr-defined]
    assert accounts[good]["status"] == "complete"
    assert accounts[bad]["status"] == "incomplete"
    assert {r["error_code"] for r in accounts[bad]["regions"]} == {"AccessDenied"}
    assert 'secmonkey_collector_aws_errors_total{code="AccessDenied"}' in metrics
