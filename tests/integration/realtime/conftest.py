"""Fixtures of the real-time tests: a moto SQS queue with its DLQ, a monitored account, a
collector consuming the queue, and a sink of everything it publishes."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, create_monitor_role, ec2_client, role_arn
from secmonkey.common import amqp
from secmonkey.common.documents import Account
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink
from tests.integration.realtime.cloudtrail import recorded
from tests.support.servers import MotoServer

REGION = "us-east-1"
MAX_RECEIVES = 2


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy hub credentials for moto; nothing from the developer's own AWS setup."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@dataclass
class Queues:
    """The events queue and its dead-letter queue in moto, and a client to both."""

    sqs: Any
    url: str
    dlq_url: str

    def send(self, event: dict[str, Any] | str) -> str:
        text = event if isinstance(event, str) else json.dumps(event)
        return str(self.sqs.send_message(QueueUrl=self.url, MessageBody=text)["MessageId"])

    def send_many(self, events: list[dict[str, Any]]) -> None:
        for start in range(0, len(events), 10):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(e)}
                for n, e in enumerate(events[start : start + 10])
            ]
            answer = self.sqs.send_message_batch(QueueUrl=self.url, Entries=entries)
            assert not answer.get("Failed"), answer

    def counts(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the queue (default: the events queue)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def dead_letters(self) -> list[str]:
        answer = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [m["Body"] for m in answer.get("Messages", [])]


def make_queues(moto_url: str, name: str, max_receives: int = MAX_RECEIVES) -> Queues:
    """The queue + DLQ that deploy/aws/central.yaml creates, in moto."""
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name=REGION)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    return Queues(sqs, url, dlq_url)


@pytest.fixture
def queues(moto: MotoServer, aws_env: None, unique: str) -> Queues:
    return make_queues(moto.url, f"secmonkey-events-{unique}")


@dataclass
class Estate:
    """One monitored account in moto, reached by AssumeRole like production."""

    account_id: str
    ec2: Any
    default_vpc: str
    moto_url: str

    def event(self, name: str, group_id: str = "", **kwargs: Any) -> dict[str, Any]:
        return recorded(name, account=self.account_id, region=REGION, group_id=group_id, **kwargs)

    def create_group(self, name: str, vpc_id: str | None = None) -> str:
        return str(
            self.ec2.create_security_group(
                GroupName=name, Description=f"{name} tier", VpcId=vpc_id or self.default_vpc
            )["GroupId"]
        )

    def describe(self, group_id: str) -> dict[str, Any]:
        return dict(self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])


@pytest_asyncio.fixture
async def estate(moto: MotoServer, aws_env: None, db: Database) -> Estate:
    account_id = str(random.SystemRandom().randrange(10**11, 10**12))
    await asyncio.to_thread(create_monitor_role, moto.url, account_id)
    ec2 = await asyncio.to_thread(ec2_client, moto.url, account_id, REGION)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    account = Account(
        id=account_id,
        name=f"acct-{account_id}",
        role_arn=role_arn(account_id),
        external_id=EXTERNAL_ID,
        regions=[REGION],
    )
    await db.accounts.insert_one(account.to_mongo())
    return Estate(account_id, ec2, vpcs[0]["VpcId"], moto.url)


@pytest_asyncio.fixture
async def settings(
    mongo_url: str,
    amqp_url: str,
    db: Database,
    unique: str,
    moto: MotoServer,
    aws_env: None,
    queues: Queues,
    rabbit: AbstractRobustConnection,
) -> AsyncIterator[Settings]:
    """Collector settings with events on, a short long-poll and window, unique names."""
    yield Settings(
        environment="test",
        mongo_url=mongo_url,
        mongo_db=db.name,
        amqp_url=amqp_url,
        aws_endpoint_url=moto.url,
        sweeps_queue=f"test.sweeps.{unique}",
        routing_prefix=f"test-{unique}",
        scheduler_enabled=False,
        replica_id=f"test-{unique}",
        aws_max_attempts=2,
        events_queue_url=queues.url,
        events_wait_seconds=1,
        events_window_seconds=0.5,
        events_visibility_timeout=10,
        events_missed_check_seconds=3600,
    )
    channel = await rabbit.channel()
    for name in (f"test.sweeps.{unique}", f"test.sweeps.{unique}.dead"):
        await channel.queue_delete(name)
    await channel.close()


@pytest_asyncio.fixture
async def sink(rabbit: AbstractRobustConnection, settings: Settings) -> AsyncIterator[SnapshotSink]:
    """Every snapshot published under this test's routing prefix."""
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(exchanges[SNAPSHOTS_EXCHANGE], routing_key=f"{settings.routing_prefix}.#")
    sink = SnapshotSink()
    tag = await queue.consume(sink.on_message)
    yield sink
    await queue.cancel(tag)
    await channel.close()


async def eventually(check: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def auditor(
    settings: Settings, rabbit: AbstractRobustConnection, unique: str
) -> AsyncIterator[None]:
    """The auditor (its app and lifespan) on this test's database and snapshots."""
    from secmonkey.auditor.app import create_app
    from secmonkey.auditor.rules.rules_file import load_rules
    from secmonkey.auditor.settings import Settings as AuditorSettings

    queue = f"test.auditor.{unique}"
    auditor_settings = AuditorSettings(
        environment="test",
        mongo_url=settings.mongo_url,
        mongo_db=settings.mongo_db,
        amqp_url=settings.amqp_url,
        auditor_queue=queue,
        auditor_routing_keys=[f"{settings.routing_prefix}.#"],
        auditor_context_ttl=0,
    )
    app = create_app(auditor_settings, load_rules(None))
    async with app.router.lifespan_context(app):
        yield
    channel = await rabbit.channel()
    base = amqp.QueueSpec(queue)
    for _, spec in amqp.auditor_queues(auditor_settings.partitions, base):
        for name in (spec.name, spec.dead_letter_queue):
            await channel.queue_delete(name)
    await channel.close()


async def history(db: Database, account_id: str, group_id: str) -> list[dict[str, Any]]:
    """The group's revisions, oldest first."""
    key = f"aws:{account_id}:{REGION}:{group_id}"
    return list(await db.revisions.find({"key": key}).sort("seq", 1).to_list(None))


async def wait_history(
    db: Database, account_id: str, group_id: str, count: int
) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        revisions = await history(db, account_id, group_id)
        return revisions if len(revisions) >= count else None

    found: list[dict[str, Any]] = await eventually(enough, what=f"{count} revision(s)")
    return found
