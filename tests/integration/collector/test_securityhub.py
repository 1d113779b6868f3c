"""Security Hub export against a real moto server: an account that opted in sees its
findings in its own Security Hub, imported through its writer role, and follows their
life there: a fixed finding is resolved, a deleted group's findings archived. An account
that did not opt in sends nothing, and a writer role that cannot be used dead-letters the
event with the reason instead of losing it.

The events come from the real auditor (publishing to RabbitMQ) and reach the exporter
through its real consumer queue; moto answers as Security Hub (`batch_import_findings`
works; re-importing a finding updates it, see ../shared FACTS).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import load_rules
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.securityhub.asff import finding_id
from secmonkey.collector.securityhub.export import ROUTING_KEYS, SecurityHubExporter
from secmonkey.collector.settings import Settings
from secmonkey.common import amqp
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.documents import Account
from secmonkey.common.messages import EVENTS_EXCHANGE, SnapshotBatch, SweepCompleted
from secmonkey.common.security_hub import SecurityHubExport
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import add_accounts, random_account_ids
from tests.integration.collector.test_assume_role import HUB_POLICY, iam_enforced
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
EXTERNAL_ID = "securityhub-test-external-id"
WRITER = "secmonkey-writer"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HUB_WRITER_POLICY = HUB_POLICY.parent / "secmonkey-hub-writer-policy.json"
WRITER_POLICY = HUB_POLICY.parent / "secmonkey-writer-policy.json"


def writer_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{WRITER}"


def hub_of(moto: MotoServer, account_id: str) -> Any:
    """Security Hub of `account_id` as the account itself sees it (through its writer role)."""
    sts = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1")
    creds = sts.assume_role(
        RoleArn=writer_arn(account_id), RoleSessionName="test", ExternalId=EXTERNAL_ID
    )["Credentials"]
    return boto3.client(
        "securityhub",
        endpoint_url=moto.url,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def findings_in(moto: MotoServer, account_id: str) -> dict[str, dict[str, Any]]:
    hub = hub_of(moto, account_id)
    found: dict[str, dict[str, Any]] = {}
    for page in hub.get_paginator("get_findings").paginate():
        for finding in page["Findings"]:  # moto ignores filters: select here
            if finding["AwsAccountId"] == account_id:
                found[finding["Id"]] = finding
    return found


def group(group_id: str, rules: list[Rule], owner: str) -> CanonicalGroup:
    return CanonicalGroup(
        group_id=group_id,
        name=f"web-{group_id[-4:]}",
        description="test",
        vpc_id="vpc-0aaa1111",
        owner_id=owner,
        rules=rules,
        tags={},
    ).normalised()


SSH_WORLD = Rule(
    direction="ingress", protocol="tcp", from_port=22, to_port=22, source_kind="cidr4",
    source="0.0.0.0/0",
)  # fmt: skip
HTTPS_VPC = Rule(
    direction="ingress", protocol="tcp", from_port=443, to_port=443, source_kind="cidr4",
    source="10.0.0.0/16",
)  # fmt: skip
ATTACHED = Attachments(interface_count=1, interface_types=["interface"], public_ip=False)


@dataclass
class Pipeline:
    """The auditor publishing events, the exporter consuming them from its own queue."""

    db: Database
    auditor: Auditor
    exporter: SecurityHubExporter
    consumer: amqp.Consumer

    async def sweep(self, account: str, at: datetime, groups: list[CanonicalGroup]) -> None:
        sweep_id = f"sweep-{account}-{at:%H%M%S}"
        snapshots = [GroupSnapshot.of(g, ATTACHED) for g in groups]
        await self.auditor.handle(
            SnapshotBatch(
                sweep_id=sweep_id, account_id=account, region=REGION, observed_at=at,
                groups=snapshots,
            )
        )  # fmt: skip
        await self.auditor.handle(
            SweepCompleted(
                sweep_id=sweep_id, account_id=account, region=REGION, observed_at=at,
                started_at=at - timedelta(seconds=5), group_ids=[g.group_id for g in groups],
                complete=True,
            )
        )  # fmt: skip


@pytest_asyncio.fixture
async def pipeline(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection, unique: str
) -> AsyncIterator[Pipeline]:
    publisher = await amqp.Publisher.open(rabbit)
    # The notifier's place: every event has a route (the auditor publishes as mandatory).
    others = await rabbit.channel()
    notifier = await others.declare_queue(exclusive=True, auto_delete=True)
    await notifier.bind(EVENTS_EXCHANGE, routing_key="#")
    auditor = Auditor(db, load_rules(None), publisher)
    exporter = SecurityHubExporter(
        settings.model_copy(update={"securityhub_linger_seconds": 0.2}), db, account_ttl=0.0
    )
    spec = amqp.QueueSpec(f"test.securityhub.{unique}", EVENTS_EXCHANGE, ROUTING_KEYS)
    consumer = amqp.Consumer(rabbit, spec, exporter.handle, prefetch=50)
    await consumer.start()
    yield Pipeline(db, auditor, exporter, consumer)
    await consumer.stop()
    await exporter.close()
    await others.close()
    channel = await rabbit.channel()
    for name in (spec.name, spec.dead_letter_queue):
        await channel.queue_delete(name)
    await channel.close()


def create_writer_role(moto: MotoServer, account_id: str, policy: str | None = None) -> None:
    """The writer role of deploy/iam/writer-role.yaml, created in the account."""
    sts = boto3.client("sts", endpoint_url=moto.url, region_name="us-east-1")
    creds = sts.assume_role(
        RoleArn=writer_arn(account_id), RoleSessionName="setup", ExternalId=EXTERNAL_ID
    )["Credentials"]
    iam = boto3.client(
        "iam",
        endpoint_url=moto.url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}},
            }
        ],
    }
    iam.create_role(RoleName=WRITER, AssumeRolePolicyDocument=json.dumps(trust))
    if policy is not None:
        iam.put_role_policy(RoleName=WRITER, PolicyName="writer", PolicyDocument=policy)


async def eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not within the time limit")
        await asyncio.sleep(0.2)


async def issue_ids(db: Database, group_id: str) -> list[str]:
    return [d["_id"] for d in await db.issues.find({"group_id": group_id}).to_list(None)]


async def test_security_hub_receives_then_resolves_then_archives_a_finding(
    pipeline: Pipeline, db: Database, moto: MotoServer
) -> None:
    opted, other = random_account_ids(2)
    create_writer_role(moto, opted)
    create_writer_role(moto, other)
    await add_accounts(
        db,
        [
            Account(
                id=opted,
                name="cardholder",
                external_id=EXTERNAL_ID,
                security_hub=SecurityHubExport(role_arn=writer_arn(opted)),
            ),
            Account(id=other, name="no-opt-in", external_id=EXTERNAL_ID),
        ],
    )
    web, api = "sg-0aaa00000000000a1", "sg-0aaa00000000000a2"
    await pipeline.sweep(
        opted, T0, [group(web, [SSH_WORLD], opted), group(api, [SSH_WORLD], opted)]
    )
    await pipeline.sweep(other, T0, [group(web, [SSH_WORLD], other)])
    ssh = [
        i
        for i in await issue_ids(db, web)
        if (await db.issues.find_one({"_id": i}))["account_id"] == opted
    ]
    assert ssh, "the auditor opened no issue for SSH open to the world"

    # Received: a NEW, FAILED, ACTIVE finding in the opted-in account's own Security Hub.
    await eventually(lambda: all(finding_id(i) in findings_in(moto, opted) for i in ssh))
    found = findings_in(moto, opted)[finding_id(ssh[0])]
    assert found["Workflow"]["Status"] == "NEW" and found["RecordState"] == "ACTIVE"
    assert found["Compliance"]["Status"] == "FAILED"
    assert found["ProductArn"] == f"arn:aws:securityhub:{REGION}:{opted}:product/{opted}/default"
    assert found["Resources"][0]["Id"].endswith(f":security-group/{web}")
    assert any(
        r.startswith("NIST 800-53 rev 5") for r in found["Compliance"]["RelatedRequirements"]
    )
    assert found["Severity"]["Label"] in ("HIGH", "CRITICAL")
    assert not findings_in(moto, other), "an account that did not opt in sent findings"

    # Fixed: the SSH rule is replaced; the finding is resolved there.
    await pipeline.sweep(
        opted,
        T0 + timedelta(hours=1),
        [group(web, [HTTPS_VPC], opted), group(api, [SSH_WORLD], opted)],
    )

    def resolved() -> bool:
        f = findings_in(moto, opted).get(finding_id(ssh[0]))
        return f is not None and f["Workflow"]["Status"] == "RESOLVED"

    await eventually(resolved)
    fixed = findings_in(moto, opted)[finding_id(ssh[0])]
    assert fixed["Compliance"]["Status"] == "PASSED" and fixed["RecordState"] == "ACTIVE"

    # Deleted: the api group is gone from a complete sweep; its findings are archived.
    api_issues = await issue_ids(db, api)
    api_issues = [
        i for i in api_issues if (await db.issues.find_one({"_id": i}))["account_id"] == opted
    ]
    await pipeline.sweep(opted, T0 + timedelta(hours=2), [group(web, [HTTPS_VPC], opted)])

    def archived() -> bool:
        found = findings_in(moto, opted)
        return all(
            found.get(finding_id(i), {}).get("RecordState") == "ARCHIVED" for i in api_issues
        )

    await eventually(archived)
    assert findings_in(moto, opted)[finding_id(ssh[0])]["RecordState"] == "ACTIVE"

    # A fixed finding of a group deleted later is archived too.
    await pipeline.sweep(opted, T0 + timedelta(hours=3), [])

    def fixed_archived() -> bool:
        found = findings_in(moto, opted).get(finding_id(ssh[0]), {})
        return found.get("RecordState") == "ARCHIVED"

    await eventually(fixed_archived)
    assert findings_in(moto, opted)[finding_id(ssh[0])]["Workflow"]["Status"] == "RESOLVED"
    assert pipeline.exporter.imported >= len(ssh) + 1 + len(api_issues)


def hub_holding(
    pipeline: Pipeline, moto: MotoServer, monkeypatch: pytest.MonkeyPatch, policies: list[Path]
) -> None:
    """The exporter acts as an IAM user of the hub holding exactly these deploy/iam policies."""
    iam = boto3.client("iam", endpoint_url=moto.url, region_name="us-east-1")
    iam.create_user(UserName="secmonkey-hub")
    for n, policy in enumerate(policies):
        iam.put_user_policy(
            UserName="secmonkey-hub", PolicyName=f"hub-{n}", PolicyDocument=policy.read_text()
        )
    key = iam.create_access_key(UserName="secmonkey-hub")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    pipeline.exporter.clients = AwsClients(pipeline.exporter.clients.settings)  # the new keys


async def test_with_iam_enforced_the_writer_policies_are_enough_to_import(
    pipeline: Pipeline, db: Database, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub's two policies let the exporter assume the writer role, and the writer
    policy's action is the one the exporter calls. moto authorises every non-S3 call
    against the resource `*` (moto.core.authorization), so here the Security Hub statement
    is widened to `*`; in AWS it is limited to the account's own product ARN."""
    (account,) = random_account_ids(1)
    policy = json.loads(WRITER_POLICY.read_text())
    policy["Statement"][0]["Resource"] = "*"
    create_writer_role(moto, account, json.dumps(policy))
    await add_accounts(
        db,
        [
            Account(
                id=account,
                name="enforced",
                external_id=EXTERNAL_ID,
                security_hub=SecurityHubExport(role_arn=writer_arn(account)),
            )
        ],
    )
    hub_holding(pipeline, moto, monkeypatch, [HUB_POLICY, HUB_WRITER_POLICY])
    with iam_enforced(moto):
        await pipeline.sweep(account, T0, [group("sg-0ccc00000000000c1", [SSH_WORLD], account)])
        await eventually(lambda: pipeline.exporter.imported >= 1)
    assert [f for f in findings_in(moto, account).values() if f["Workflow"]["Status"] == "NEW"]


async def test_a_writer_role_the_hub_may_not_assume_dead_letters_the_event_with_the_reason(
    pipeline: Pipeline,
    db: Database,
    moto: MotoServer,
    rabbit: AbstractRobustConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With IAM enforced and the hub holding only the monitoring policy (the writer policy
    is a separate opt-in), the writer role cannot be assumed: the event waits in the
    dead-letter queue with AWS's reason, to be replayed once the policy is attached."""
    (account,) = random_account_ids(1)
    create_writer_role(moto, account)
    await add_accounts(
        db,
        [
            Account(
                id=account,
                name="misconfigured",
                external_id=EXTERNAL_ID,
                security_hub=SecurityHubExport(role_arn=writer_arn(account)),
            )
        ],
    )
    hub_holding(pipeline, moto, monkeypatch, [HUB_POLICY])
    channel = await rabbit.channel()
    dead = await channel.declare_queue(pipeline.consumer.spec.dead_letter_queue, passive=True)
    message = None
    with iam_enforced(moto):
        await pipeline.sweep(account, T0, [group("sg-0bbb00000000000b1", [SSH_WORLD], account)])
        for _ in range(150):
            message = await dead.get(fail=False, no_ack=True)
            if message is not None:
                break
            await asyncio.sleep(0.2)
    await channel.close()
    assert message is not None, "the event was neither imported nor dead-lettered"
    reason = str((message.headers or {}).get(amqp.REASON_HEADER))
    assert "AccessDenied" in reason and writer_arn(account) in reason, reason
    assert pipeline.exporter.imported == 0


async def test_a_burst_of_events_reads_the_account_once(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many issue events of one account at once (a sweep's first sight) read the account
    once per `account_ttl`, not once each."""
    from secmonkey.collector.securityhub import export

    account = random_account_ids(1)[0]
    await add_accounts(db, [Account(id=account, name="burst")])
    reads: list[str] = []
    real = export.get_account

    async def counted(database: Database, account_id: str) -> Account | None:
        reads.append(account_id)
        return await real(database, account_id)

    monkeypatch.setattr(export, "get_account", counted)
    exporter = SecurityHubExporter(settings, db, account_ttl=60.0)
    try:
        found = await asyncio.gather(*(exporter._account(account) for _ in range(20)))
        assert {a.id if a else None for a in found} == {account}
        assert reads == [account]
        assert await exporter._account("999999999999") is None  # unknown: read, and cached
        assert await exporter._account("999999999999") is None
        assert reads == [account, "999999999999"]
    finally:
        await exporter.close()
