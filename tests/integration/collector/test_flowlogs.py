"""Rule usage from VPC flow logs, read from moto S3 and CloudWatch Logs (moto writes no
records: these tests write them where AWS would). If these fail, users see rules called
unused that were used, replies counted as use, or hits counted twice after a restart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from secmonkey.auditor.rules.base import RuleContext
from secmonkey.auditor.rules.engine import evaluate, prepare
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.flowlogs.attach import attach_usage
from secmonkey.collector.flowlogs.run import FlowLogReader
from secmonkey.collector.reader import read_region
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate.flowlog_records import (
    V5_FIELDS,
    Flow,
    put_cloudwatch_flows,
    put_s3_flows,
)
from secmonkey.common.documents import Account
from secmonkey.common.item_keys import item_key
from secmonkey.common.rule_usage import UsageSummary, read_region_summaries, read_summary
from secmonkey.common.storage import Database

ACCOUNT = "123456789012"  # moto's default account: the hub's own credentials read it
REGION = "us-east-1"
HTTPS = "ingress tcp/443 from 0.0.0.0/0"
SSH = "ingress tcp/22 from 10.0.0.0/8"
EPHEMERAL = "ingress tcp/32768-65535 from 0.0.0.0/0"
ALT = "ingress tcp/8080 from 10.0.0.0/8"


def client(moto_url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto_url, region_name=REGION)


def build_estate(moto_url: str, destination: dict[str, Any]) -> dict[str, str]:
    """A VPC with a logged and an unlogged subnet; `web` on two logged interfaces,
    `mixed` on one logged and one unlogged interface."""
    ec2 = client(moto_url, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    logged = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    unlogged = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24")["Subnet"]["SubnetId"]
    suffix = uuid.uuid4().hex[:6]
    web = ec2.create_security_group(GroupName=f"web-{suffix}", Description="w", VpcId=vpc)
    mixed = ec2.create_security_group(GroupName=f"mixed-{suffix}", Description="m", VpcId=vpc)
    ec2.authorize_security_group_ingress(
        GroupId=web["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 32768,
                "ToPort": 65535,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            },
        ],
    )
    ec2.authorize_security_group_ingress(
        GroupId=mixed["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            }
        ],
    )

    def eni(subnet: str, group: str, ip: str) -> str:
        answer = ec2.create_network_interface(SubnetId=subnet, Groups=[group], PrivateIpAddress=ip)
        return str(answer["NetworkInterface"]["NetworkInterfaceId"])

    ids = {
        "web": web["GroupId"],
        "mixed": mixed["GroupId"],
        "a": eni(logged, web["GroupId"], "10.0.1.10"),
        "b": eni(logged, web["GroupId"], "10.0.1.11"),
        "c": eni(logged, mixed["GroupId"], "10.0.1.12"),
        "d": eni(unlogged, mixed["GroupId"], "10.0.2.12"),
    }
    answer = ec2.create_flow_logs(
        ResourceIds=[logged], ResourceType="Subnet", TrafficType="ALL", **destination
    )
    assert not answer.get("Unsuccessful"), answer
    return ids


def rules_of(summary: UsageSummary | None) -> dict[str, Any]:
    assert summary is not None
    return {r.rule: r for r in summary.rules}


@pytest.fixture
def clients(settings: Settings) -> AwsClients:
    return AwsClients(settings)


def s3_account(bucket: str) -> Account:
    return Account.model_validate(
        {"_id": ACCOUNT, "name": "flows", "flow_logs": [{"kind": "s3", "bucket": bucket}]}
    )


class BreakingBody:
    """An S3 body that fails after `limit` bytes, as a dropped connection would."""

    def __init__(self, body: Any, limit: int = 40) -> None:
        self.body = body
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("connection lost mid-object")
        want = self.left if size is None or size < 0 else min(size, self.left)
        data: bytes = self.body.read(want)
        self.left -= len(data)
        return data


class BreakingS3:
    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def get_object(self, **params: Any) -> Any:
        answer = self.s3.get_object(**params)
        answer["Body"] = BreakingBody(answer["Body"])
        return answer


async def test_s3_flows_give_last_use_unused_unknown_and_count_once_after_restarts(
    settings: Settings, clients: AwsClients, db: Database
) -> None:
    bucket = f"flowlogs-{uuid.uuid4().hex[:8]}"
    s3 = client(settings.aws_endpoint_url or "", "s3")
    s3.create_bucket(Bucket=bucket)
    ids = build_estate(
        settings.aws_endpoint_url or "",
        {"LogDestinationType": "s3", "LogDestination": f"arn:aws:s3:::{bucket}"},
    )
    t0 = datetime.now(UTC).replace(microsecond=0)
    used_at = t0 + timedelta(days=20)
    put_s3_flows(
        s3,
        bucket,
        [
            # a client reaching 443 (v2 fields: port 443 is no ephemeral port: a use)
            Flow(ids["a"], "198.51.100.7", "10.0.1.10", 51000, 443, used_at, flags=None),
            # the answer to eni-a's own connection to a web server: to an ephemeral port
            Flow(ids["a"], "203.0.113.9", "10.0.1.10", 443, 40000, used_at, flags=None),
            # ssh before the window: the rule is still unused 30 days on
            Flow(ids["a"], "10.1.2.3", "10.0.1.10", 50000, 22, t0 + timedelta(hours=1), flags=None),
            # rejected and outbound records are no use of an inbound rule
            Flow(
                ids["b"], "10.9.9.9", "10.0.1.11", 50001, 22, used_at, action="REJECT", flags=None
            ),
            Flow(ids["b"], "10.0.1.11", "10.1.1.1", 40002, 22, used_at, flags=None),
        ],
    )
    # v5 fields: a SYN-ACK to eni-b is the reply to its own connection, never a use
    put_s3_flows(
        s3,
        bucket,
        [
            Flow(ids["b"], "203.0.113.9", "10.0.1.11", 443, 40001, used_at, flags=2 | 16),
        ],
        fields=V5_FIELDS,
    )
    account = s3_account(bucket)
    now = t0 + timedelta(days=31)
    reader = FlowLogReader(db, clients.client, backfill_days=40)
    stats = await reader.read_account(account, [REGION], now=now)
    assert stats.units == 2 and stats.replies == 1

    web = rules_of(await read_summary(db, item_key(ACCOUNT, REGION, ids["web"])))
    assert web[HTTPS].status == "used"
    assert web[HTTPS].last_used == used_at
    assert web[HTTPS].hits == 1 and [(c.source, c.hits) for c in web[HTTPS].top_sources] == [
        ("198.51.100.7", 1)
    ]
    assert web[SSH].status == "unused"
    assert web[SSH].last_used == t0 + timedelta(hours=1)
    assert web[EPHEMERAL].status == "unknown" and web[EPHEMERAL].hits == 0
    assert web[EPHEMERAL].ambiguous == 1
    mixed = await read_summary(db, item_key(ACCOUNT, REGION, ids["mixed"]))
    assert mixed is not None and mixed.uncovered == [ids["d"]]
    assert rules_of(mixed)[ALT].status == "unknown"

    # A restart mid-object: the read fails halfway, the next run reads it whole, once.
    later = t0 + timedelta(days=25)
    put_s3_flows(
        s3,
        bucket,
        [
            Flow(ids["a"], f"198.51.100.{n}", "10.0.1.10", 51000 + n, 443, later, flags=None)
            for n in range(10, 13)
        ],
    )
    breaking = FlowLogReader(
        db,
        lambda acct, service, region: (
            BreakingS3(clients.client(acct, service, region))
            if service == "s3"
            else clients.client(acct, service, region)
        ),
        backfill_days=40,
    )
    with pytest.raises(ConnectionResetError):
        await breaking.read_account(account, [REGION], now=now)
    stats = await reader.read_account(account, [REGION], now=now)
    assert stats.units == 1
    web = rules_of(await read_summary(db, item_key(ACCOUNT, REGION, ids["web"])))
    assert web[HTTPS].hits == 4 and web[HTTPS].last_used == later

    # A crash after the summaries were written but before the checkpoint: the batch is
    # still open and its units unread; reading it again must not count it twice.
    batch = await db.flowlog_checkpoints.find_one({"state": "done"}, sort=[("at", -1)])
    assert batch is not None
    await db.flowlog_checkpoints.update_one({"_id": batch["_id"]}, {"$set": {"state": "open"}})
    await db.flowlog_checkpoints.delete_many({"_id": {"$regex": "^done\\|"}})
    await reader.read_account(account, [REGION], now=now)
    web = rules_of(await read_summary(db, item_key(ACCOUNT, REGION, ids["web"])))
    assert web[HTTPS].hits == 4 and web[HTTPS].distinct_sources == 4
    assert not web[HTTPS].approximate

    # The sweep carries the facts to the auditor, whose rules judge them.
    ec2 = clients.client(account, "ec2", REGION)
    read = read_region(ec2)
    assert await attach_usage(db, ACCOUNT, REGION, read) >= 2  # web, mixed, the defaults
    snapshot = next(g for g in read.groups if g.config.group_id == ids["web"])
    ctx = RuleContext(account_id=ACCOUNT, region=REGION, attachments=snapshot.attachments)
    config = RulesConfig()
    found = evaluate("k", snapshot.config, prepare(config, ctx), config)
    unused = [f.rule_text for f in found if f.rule_id == "unused-rule"]
    assert unused == [SSH]


async def test_cloudwatch_custom_format_counts_syn_and_ignores_replies(
    settings: Settings, clients: AwsClients, db: Database
) -> None:
    logs = client(settings.aws_endpoint_url or "", "logs")
    group = f"/vpc/flows-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    ids = build_estate(
        settings.aws_endpoint_url or "",
        {
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": group,
            "DeliverLogsPermissionArn": f"arn:aws:iam::{ACCOUNT}:role/flow-logs",
        },
    )
    now = datetime.now(UTC).replace(microsecond=0)
    at = now - timedelta(hours=2)
    fields = [
        "interface-id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "start",
        "action",
        "tcp-flags",
        "flow-direction",
    ]
    put_cloudwatch_flows(
        logs,
        group,
        [
            Flow(ids["a"], "198.51.100.7", "10.0.1.10", 51000, 443, at, flags=2),
            Flow(ids["a"], "198.51.100.8", "10.0.1.10", 51001, 443, at, flags=2),
            # the reply to eni-a's own connection (SYN-ACK) to an ephemeral port
            Flow(ids["a"], "203.0.113.9", "10.0.1.10", 443, 40000, at, flags=18),
            # eni-a's own outbound SYN (egress): not an inbound use
            Flow(ids["a"], "10.0.1.10", "10.1.1.1", 40001, 22, at, flags=2, direction="egress"),
        ],
        fields=fields,
    )
    account = Account.model_validate(
        {
            "_id": ACCOUNT,
            "name": "flows",
            "flow_logs": [
                {
                    "kind": "cloudwatch",
                    "log_group": group,
                    "format": " ".join(f"${{{f}}}" for f in fields),
                }
            ],
        }
    )
    reader = FlowLogReader(db, clients.client, backfill_days=1)
    stats = await reader.read_account(account, [REGION], now=now)
    assert stats.records == 4 and stats.replies == 1
    web = rules_of(await read_summary(db, item_key(ACCOUNT, REGION, ids["web"])))
    assert web[HTTPS].hits == 2 and web[HTTPS].distinct_sources == 2
    assert web[HTTPS].last_used == at
    assert web[EPHEMERAL].hits == 0 and web[EPHEMERAL].ambiguous == 0
    assert web[SSH].hits == 0
    # read again: the hours already read are not counted twice
    await reader.read_account(account, [REGION], now=now)
    web = rules_of(await read_summary(db, item_key(ACCOUNT, REGION, ids["web"])))
    assert web[HTTPS].hits == 2


async def test_the_simulated_estate_has_flow_logs_that_show_usage(
    settings: Settings, clients: AwsClients, db: Database
) -> None:
    from secmonkey.collector.simulate import add_flow_logs, fill_estate

    endpoint = settings.aws_endpoint_url or ""
    estate = fill_estate(endpoint, 1, ["us-east-1"], 9, attach_share=1.0, workers=1)
    assert add_flow_logs(estate) == 1
    (entry,) = estate.account_entries()
    account = Account.model_validate({**entry, "_id": entry["id"]})
    assert [p.bucket for p in account.flow_logs] == [estate.flow_log_buckets[account.id]]
    stats = await FlowLogReader(db, clients.client).read_account(account, ["us-east-1"])
    assert stats.units == 1 and stats.accepted_inbound > 0
    summaries = await read_region_summaries(db, account.id, "us-east-1")
    statuses = {r.status for s in summaries.values() for r in s.rules}
    assert "used" in statuses  # flow logs younger than 30 days: the rest is unknown
    assert "unused" not in statuses
