"""A sweep over accounts reached by AssumeRole in a real moto server, published to RabbitMQ."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from aio_pika.abc import AbstractRobustConnection
from botocore.stub import Stubber

from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import (
    EXTERNAL_ID,
    ec2_client,
    fill_estate,
    read_only_policy,
    role_arn,
)
from secmonkey.collector.sweep_status import sweep_status
from secmonkey.collector.sweeper import Sweeper
from secmonkey.common.amqp import Publisher
from secmonkey.common.canonical import canonical_from_aws
from secmonkey.common.documents import Account
from secmonkey.common.messages import SweepRequest
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import (
    SnapshotSink,
    add_accounts,
    random_account_ids,
    running,
    wait_status,
)
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

REGIONS = ["us-east-1", "eu-west-1"]


def aws_truth(moto_url: str, account_id: str, region: str) -> dict[str, Any]:
    """What moto itself says is in the region, asked directly (not through the collector)."""
    ec2 = ec2_client(moto_url, account_id, region)
    groups = ec2.describe_security_groups()["SecurityGroups"]
    truth: dict[str, Any] = {"groups": {g["GroupId"]: g for g in groups}, "enis": {}}
    for group_id in truth["groups"]:
        truth["enis"][group_id] = ec2.describe_network_interfaces(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )["NetworkInterfaces"]
    truth["vpcs"] = {v["VpcId"]: v for v in ec2.describe_vpcs()["Vpcs"]}
    return truth


async def test_two_accounts_two_regions_every_group_arrives_once_and_right(
    settings: Settings, db: Database, sink: SnapshotSink, moto: MotoServer
) -> None:
    accounts = random_account_ids(2)
    estate = fill_estate(moto.url, accounts, REGIONS, groups_per_region=12, seed=7)
    await add_accounts(
        db,
        [
            Account(
                id=a,
                name=f"acct-{a}",
                role_arn=role_arn(a),
                external_id=EXTERNAL_ID,
                regions=REGIONS,
            )
            for a in accounts
        ],
    )
    truths = {(a, r): aws_truth(moto.url, a, r) for a in accounts for r in REGIONS}

    async with running(settings) as client:
        # Every call the collector makes is one the read-only policy grants.
        calls: list[str] = []
        app_collector = client._transport.app.state.collector  # type: ignore[attr-defined]
        app_collector.clients.events.register(
            "before-call",
            lambda model, **_: calls.append(f"{model.service_model.endpoint_prefix}:{model.name}"),
        )
        answer = await client.post("/sweeps", json={"account_ids": accounts})
        assert answer.status_code == 202, answer.text
        sweep_id = answer.json()["sweep_id"]
        await sink.wait_completed(sweep_id, 4)
        status = await wait_status(client, sweep_id)

    batches, completed = sink.of(sweep_id)
    assert sorted((c.account_id, c.region) for c in completed) == sorted(truths)
    assert all(c.complete and c.error is None for c in completed)
    assert all(len(b.groups) <= settings.batch_size for b in batches)
    granted = {
        action for statement in read_only_policy()["Statement"] for action in statement["Action"]
    }
    assert {c for c in calls if not c.startswith("sts:")} <= granted
    assert {"ec2:DescribeSecurityGroups", "ec2:DescribeRouteTables"} <= set(calls)
    # The first batch of each account-region carries its network topology (exposure).
    firsts = {}
    for b in batches:
        firsts.setdefault((b.account_id, b.region), b)
    assert all(b.topology is not None and b.schema_version == 3 for b in firsts.values())

    for (account, region), truth in truths.items():
        mine = [b for b in batches if (b.account_id, b.region) == (account, region)]
        seen = Counter(g.config.group_id for b in mine for g in b.groups)
        # Exactly once each: the estate's groups plus the VPCs' default groups.
        assert set(seen) == set(truth["groups"])
        assert set(seen.values()) == {1}
        assert set(estate.groups[(account, region)]) <= set(seen)
        done = next(c for c in completed if (c.account_id, c.region) == (account, region))
        assert sorted(done.group_ids) == sorted(truth["groups"])
        # The completion comes after every batch of its region.
        keys = [
            k for k in sink.routing_keys if k == f"{settings.routing_prefix}.{account}.{region}"
        ]
        assert len(keys) == len(mine) + 1

        for batch in mine:
            for snap in batch.groups:
                raw = truth["groups"][snap.config.group_id]
                assert snap.config.owner_id == account
                assert snap.config.vpc_id == raw["VpcId"]
                assert snap.config == canonical_from_aws(raw)
                assert snap.fingerprint == snap.config.fingerprint()
                enis = truth["enis"][snap.config.group_id]
                assert snap.attachments.interface_count == len(enis)
                assert snap.attachments.public_ip == any(
                    (e.get("Association") or {}).get("PublicIp") for e in enis
                )
                assert snap.attachments.instance_ids == sorted(
                    {e["Attachment"]["InstanceId"] for e in enis if e.get("Attachment")}
                )
            default_vpcs = [v for v in batch.vpcs if v.is_default]
            for vpc in batch.vpcs:
                assert vpc.cidrs and vpc.cidrs[0] == truth["vpcs"][vpc.vpc_id]["CidrBlock"]
            assert len(default_vpcs) <= 1

        snaps = [g for b in mine for g in b.groups]
        kinds = {rule.source_kind for g in snaps for rule in g.config.rules}
        assert kinds == {"cidr4", "cidr6", "group", "prefix_list"}
        group_accounts = {
            rule.source_account
            for g in snaps
            for rule in g.config.rules
            if rule.source_kind == "group"
        }
        assert account in group_accounts and group_accounts - {account}, group_accounts
        assert any(g.attachments.instance_ids for g in snaps)
        assert any(g.attachments.public_ip for g in snaps)
        assert any(not g.attachments.attached for g in snaps)

    assert status["status"] == "complete"
    assert status["regions_complete"] == 4 and status["regions_incomplete"] == 0
    assert status["groups"] == sum(len(t["groups"]) for t in truths.values())
    for account_status in status["accounts"]:  # type: ignore[attr-defined]
        assert account_status["status"] == "complete"
        for region in account_status["regions"]:
            assert region["batches"] >= 1 and region["duration_seconds"] is not None
            assert region["collector"] == settings.replica_id


class _ThrottledRegion(AwsClients):
    """Real moto clients, except one region whose second page fails after every retry."""

    def __init__(self, settings: Settings, region: str) -> None:
        super().__init__(settings)
        self.region = region
        self.stubbed = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        ).client("ec2", region_name=region)
        self.stub = Stubber(self.stubbed)
        first_page = canonical_groups_page()
        self.stub.add_response(
            "describe_security_groups", {"SecurityGroups": first_page, "NextToken": "p2"}
        )
        self.stub.add_client_error(
            "describe_security_groups",
            service_error_code="RequestLimitExceeded",
            service_message="Request limit exceeded.",
            http_status_code=503,
        )
        self.stub.activate()

    def client(self, account: Account, service: str, region: str) -> Any:
        if service == "ec2" and region == self.region:
            return self.stubbed
        return super().client(account, service, region)


def canonical_groups_page() -> list[dict[str, Any]]:
    return [
        {
            "GroupId": f"sg-{n:017x}",
            "GroupName": f"g{n}",
            "Description": "d",
            "OwnerId": "123456789012",
            "VpcId": "vpc-1",
            "IpPermissions": [],
            "IpPermissionsEgress": [],
        }
        for n in range(3)
    ]


async def test_a_region_failing_on_a_later_page_is_incomplete_and_publishes_no_groups(
    settings: Settings,
    db: Database,
    sink: SnapshotSink,
    moto: MotoServer,
    rabbit: AbstractRobustConnection,
) -> None:
    (account,) = random_account_ids(1)
    fill_estate(moto.url, [account], REGIONS, groups_per_region=3, seed=1)
    await add_accounts(
        db,
        [
            Account(
                id=account,
                name="a",
                role_arn=role_arn(account),
                external_id=EXTERNAL_ID,
                regions=REGIONS,
            )
        ],
    )
    clients = _ThrottledRegion(settings, "eu-west-1")
    publisher = await Publisher.open(rabbit)
    with ThreadPoolExecutor(4) as pool:
        sweeper = Sweeper(settings, db, publisher, clients, pool)
        results = await sweeper.sweep(SweepRequest(account_id=account, sweep_id="s-throttled"))
    await sink.wait_completed("s-throttled", 2)
    await publisher.close()
    clients.stub.assert_no_pending_responses()

    outcome = {r.region: r for r in results}
    assert outcome["us-east-1"].complete and len(outcome["us-east-1"].group_ids) >= 3
    throttled = outcome["eu-west-1"]
    assert not throttled.complete and throttled.group_ids == []
    assert throttled.error_code == "RequestLimitExceeded"
    batches, completed = sink.of("s-throttled")
    # The first page's groups were read, but never published as if they were the region.
    assert {b.region for b in batches} == {"us-east-1"}
    failed = next(c for c in completed if c.region == "eu-west-1")
    assert not failed.complete and "RequestLimitExceeded" in (failed.error or "")
    status = await sweep_status(db, "s-throttled")
    assert status is not None
    regions = {r.region: r for r in status.accounts[0].regions}
    assert regions["eu-west-1"].status == "incomplete"
    assert regions["eu-west-1"].error_code == "RequestLimitExceeded"
