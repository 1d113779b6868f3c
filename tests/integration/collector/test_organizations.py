"""Nobody types 100 accounts: the organization's active accounts are enrolled with the
role pattern and the organization's one ExternalId, labelled from their tags, closed ones
disabled (never deleted), each change one `system.*` event stored and published, and a
second run changes nothing (moto's Organizations, read through an assumed role)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.client.cli import main as cli_main
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.organizations import Discovery
from secmonkey.collector.settings import Settings
from secmonkey.common import accounts, amqp
from secmonkey.common.documents import Account
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, parse_message
from secmonkey.common.storage import Database
from tests.integration.api import harness
from tests.integration.collector.conftest import running
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

MANAGEMENT = "123456789012"  # moto's default account: the organization's management account


def org_settings(settings: Settings, **changes: Any) -> Settings:
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "organization_role_arn": f"arn:aws:iam::{MANAGEMENT}:role/secmonkey-organization",
            "organization_role_external_id": "mgmt-external-id",
            "organization_external_id": "the-organization-secret",
            "organization_label_tag_keys": ["environment"],
            **changes,
        }
    )


def organizations(moto: MotoServer) -> Any:
    return boto3.client("organizations", region_name="us-east-1", endpoint_url=moto.url)


def create_account(client: Any, name: str, tags: dict[str, str] | None = None) -> str:
    answer = client.create_account(
        Email=f"{name}@example.com",
        AccountName=name,
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    return str(answer["CreateAccountStatus"]["AccountId"])


@pytest_asyncio.fixture
async def published(rabbit: AbstractRobustConnection) -> AsyncIterator[list[Event]]:
    """Every `system.account_*` event published on `secmonkey.events`."""
    got: list[Event] = []
    channel = await rabbit.channel()
    exchanges = await amqp.declare_exchanges(channel)
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in ("system.account_enrolled", "system.account_disabled"):
        await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key=key)

    async def on_message(message: AbstractIncomingMessage) -> None:
        async with message.process():
            event = parse_message(Event, message.body)
            assert message.message_id == event.event_id
            assert message.routing_key == event.type
            got.append(event)

    tag = await queue.consume(on_message)
    yield got
    await queue.cancel(tag)
    await channel.close()


async def stored_events(db: Database) -> list[Event]:
    docs = await db.events.find({"key": {"$regex": "^system:account:"}}).to_list(None)
    return [Event.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in docs]


async def account(db: Database, account_id: str) -> Account:
    found = await accounts.get_account(db, account_id)
    assert found is not None, account_id
    return found


async def settle(published: list[Event], count: int) -> None:
    async def enough() -> None:
        while len(published) < count:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(enough(), 15)
    await asyncio.sleep(0.3)  # and nothing more arrives


async def test_an_organization_is_enrolled_labelled_and_its_closed_accounts_disabled_once(
    settings: Settings,
    db: Database,
    rabbit: AbstractRobustConnection,
    moto: MotoServer,
    published: list[Event],
) -> None:
    client = organizations(moto)
    client.create_organization(FeatureSet="ALL")
    prod = create_account(client, "prod", {"secmonkey:labels": "pci, prod", "environment": "Prod"})
    old = create_account(client, "old")
    kept = create_account(client, "kept", {"secmonkey:labels": "from-tag"})
    never = create_account(client, "never")
    client.close_account(AccountId=never)  # closed before anyone saw it: never enrolled
    # `kept` is already configured by an admin (own role, own label): adopted, not re-enrolled.
    own_role = f"arn:aws:iam::{kept}:role/custom"
    await accounts.upsert_accounts(
        db,
        [
            Account.model_validate(
                {
                    "_id": kept,
                    "name": "kept",
                    "role_arn": own_role,
                    "external_id": "own",
                    "labels": ["manual"],
                }
            )
        ],
    )
    s = org_settings(settings)
    publisher = await amqp.Publisher.open(rabbit)
    try:
        discovery = Discovery(s, db, publisher, AwsClients(s))
        first = await discovery.discover()
        assert first.listed == 5
        assert sorted(first.enrolled) == sorted([MANAGEMENT, prod, old])
        assert first.disabled == []

        enrolled = await account(db, prod)
        assert enrolled.role_arn == f"arn:aws:iam::{prod}:role/secmonkey-monitor"
        assert enrolled.external_id == "the-organization-secret"
        assert (enrolled.name, enrolled.enabled) == ("prod", True)
        assert sorted(enrolled.labels) == ["environment:prod", "pci", "prod"]
        adopted = await account(db, kept)
        assert (adopted.role_arn, adopted.external_id) == (own_role, "own")
        assert adopted.labels == ["manual", "from-tag"]
        assert await accounts.get_account(db, never) is None

        # The organization changes: `old` is closed, `prod` loses a tag.
        client.close_account(AccountId=old)
        client.untag_resource(ResourceId=prod, TagKeys=["environment"])
        second = await discovery.discover()
        assert (second.enrolled, second.disabled) == ([], [old])
        closed = await account(db, old)
        assert closed.enabled is False  # disabled, never deleted
        monitored = {a.id for a in await accounts.monitored_accounts(db)}
        assert old not in monitored and {prod, kept, MANAGEMENT} <= monitored
        assert sorted((await account(db, prod)).labels) == ["pci", "prod"]

        third = await discovery.discover()
        assert (third.enrolled, third.disabled, third.sent) == ([], [], [])
        await settle(published, 4)
    finally:
        await publisher.close()

    stored = await stored_events(db)
    assert sorted((e.type, e.account_id) for e in stored) == sorted(
        [("system.account_enrolled", a) for a in (MANAGEMENT, prod, old)]
        + [("system.account_disabled", old)]
    )
    assert sorted(e.event_id for e in published) == sorted(e.event_id for e in stored)
    disabled = next(e for e in stored if e.type == "system.account_disabled")
    assert disabled.system is not None and "suspended" in disabled.system.detail
    assert disabled.schema_version == 3  # a version-2 reader routes it as the next version


async def test_python_m_collector_discover_enrols_once_with_the_collectors_settings(
    settings: Settings, db: Database, moto: MotoServer, published: list[Event]
) -> None:
    client = organizations(moto)
    client.create_organization(FeatureSet="ALL")
    member = create_account(client, "member", {"secmonkey:labels": "pci"})
    env = {
        **os.environ,
        "SECMONKEY_ENVIRONMENT": "test",
        "SECMONKEY_MONGO_URL": settings.mongo_url,
        "SECMONKEY_MONGO_DB": settings.mongo_db,
        "SECMONKEY_AMQP_URL": settings.amqp_url,
        "SECMONKEY_AWS_ENDPOINT_URL": moto.url,
        "SECMONKEY_ORGANIZATION_EXTERNAL_ID": "the-organization-secret",
        "SECMONKEY_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "secmonkey.collector",
        "discover",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert "2 account(s) in the organization; enrolled: " in out.decode()
    enrolled = await account(db, member)
    assert (enrolled.labels, enrolled.external_id) == (["pci"], "the-organization-secret")
    await settle(published, 2)
    assert {e.account_id for e in published} == {MANAGEMENT, member}


async def test_discovery_without_the_organization_secret_is_refused_with_its_setting_named(
    settings: Settings, db: Database, rabbit: AbstractRobustConnection
) -> None:
    publisher = await amqp.Publisher.open(rabbit)
    try:
        discovery = Discovery(settings, db, publisher, AwsClients(settings))
        with pytest.raises(Exception, match="SECMONKEY_ORGANIZATION_EXTERNAL_ID"):
            await discovery.discover()
    finally:
        await publisher.close()
    assert await db.accounts.count_documents({}) == 0


async def test_the_scheduler_lease_holder_discovers_periodically(
    settings: Settings, db: Database, moto: MotoServer, published: list[Event]
) -> None:
    client = organizations(moto)
    client.create_organization(FeatureSet="ALL")
    member = create_account(client, "member")
    s = org_settings(
        settings,
        scheduler_enabled=True,
        scheduler_lease_seconds=3,
        organization_discovery_seconds=3600,
        organization_regions=["us-east-1"],
    )
    async with running(s):
        await settle(published, 2)
    enrolled = await account(db, member)
    assert (enrolled.regions, enrolled.enabled) == (["us-east-1"], True)
    assert {e.account_id for e in published} == {MANAGEMENT, member}


async def test_secmonkey_accounts_discover_asks_the_collector_through_the_api_and_sees_the_outcome(
    settings: Settings, db: Database, mongo_url: str, amqp_url: str, moto: MotoServer
) -> None:
    client = organizations(moto)
    client.create_organization(FeatureSet="ALL")
    member = create_account(client, "member")
    # Periodic discovery off: only the request makes the lease holder discover.
    s = org_settings(settings, scheduler_enabled=True, scheduler_lease_seconds=3)
    api_settings = harness.settings_for(mongo_url, amqp_url, db.name)
    async with running(s), harness.running(api_settings) as app:
        async with harness.client_for(app) as admin:
            asked = await admin.post("/api/v1/accounts/discover")
            assert asked.status_code == 202, asked.text
            assert asked.json()["status"] == "pending"
            url = asked.json()["status_url"]
            for _ in range(150):
                answer = (await admin.get(url)).json()
                if answer["status"] != "pending":
                    break
                await asyncio.sleep(0.2)
            missing = await admin.get("/api/v1/accounts/discover/" + "0" * 32)
            audit = (await admin.get("/api/v1/audit-log", params={"limit": 100})).json()
        async with harness.client_for(app, None) as anonymous:
            refused = await anonymous.post("/api/v1/accounts/discover")
    assert answer["status"] == "done", answer
    assert (answer["listed"], sorted(answer["enrolled"])) == (2, sorted([MANAGEMENT, member]))
    assert (await account(db, member)).enabled is True
    assert missing.status_code == 404
    (entry,) = [e for e in audit["items"] if e["action"] == "account.discovery_requested"]
    assert entry["actor"]["name"] == "bootstrap" and entry["after"]["status"] == "pending"
    assert refused.status_code == 401


async def test_the_command_line_waits_for_the_collectors_answer(
    settings: Settings,
    db: Database,
    mongo_url: str,
    amqp_url: str,
    moto: MotoServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = organizations(moto)
    client.create_organization(FeatureSet="ALL")
    member = create_account(client, "member")
    client.close_account(AccountId=create_account(client, "closed"))
    server = harness.LiveServer(harness.settings_for(mongo_url, amqp_url, db.name)).start()
    monkeypatch.setenv("SECMONKEY_URL", server.url)
    monkeypatch.setenv("SECMONKEY_API_KEY", harness.ADMIN_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    try:
        async with running(org_settings(settings, scheduler_enabled=True)):
            code = await asyncio.to_thread(cli_main, ["accounts", "discover", "--wait", "60"])
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 0
    assert "3 account(s) in the organization" in out
    assert member in out and "disabled: none" in out  # closed before it was ever enrolled
