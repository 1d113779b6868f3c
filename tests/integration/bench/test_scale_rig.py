"""The scale bench's AWS stand-in: an AssumeRole through the router lands on the
account's shard, its key is learnt, a describe with that key reaches the same shard and
sees the groups seeded there, and an empty bucket answers EC2's RequestLimitExceeded.
(A broken rig would make `make bench-scale` measure the wrong thing, or nothing.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.scale import rig

pytestmark = pytest.mark.integration


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    state_file = tmp_path / "rig.json"
    config = rig.RigConfig(shards=2, accounts=2, groups=3, latency_ms=5, burst=6, rate=0.01)
    state = rig.up(config, state_file)
    try:
        yield state
    finally:
        rig.down(state_file)


def ec2(url: str, creds: dict[str, str]) -> Any:
    return boto3.client(
        "ec2",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def seeded(client: Any) -> set[tuple[str, str]]:
    groups = client.describe_security_groups()["SecurityGroups"]
    return {(g["OwnerId"], g["GroupName"]) for g in groups if g["GroupName"] != "default"}


def test_calls_reach_the_accounts_shard_and_an_empty_bucket_answers_request_limit_exceeded(
    running: dict[str, Any],
) -> None:
    url, shards = running["url"], running["shards"]
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=url)
    first, second = running["accounts"]
    assert rig.shard_of(first, 2) != rig.shard_of(second, 2)  # one account per shard
    for account in (first, second):
        role = f"arn:aws:iam::{account}:role/secmonkey-monitor"
        creds = sts.assume_role(RoleArn=role, RoleSessionName="rig-test")["Credentials"]
        expected = {(account, f"seeded-{n}") for n in range(3)}
        assert seeded(ec2(url, creds)) == expected  # through the router
        own, other = shards[rig.shard_of(account, 2)], shards[1 - rig.shard_of(account, 2)]
        assert seeded(ec2(own, creds)) == expected  # the key and groups live on its shard
        assert seeded(ec2(other, creds)) == set()  # and nowhere else
    # Buckets of 6, barely refilled: `second` spent one through the router (the direct
    # calls to the shards are not counted), so its 7th call in us-east-1 is refused.
    client = ec2(url, creds)
    with pytest.raises(ClientError) as refused:
        for _ in range(6):
            client.describe_security_groups()
    assert refused.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
