"""CloudTrail events on the SQS queue become targeted snapshots that say who changed what."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from secmonkey.collector.cloudtrail import metrics
from secmonkey.collector.settings import Settings
from secmonkey.common.canonical import canonical_from_aws
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import SnapshotBatch
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink, running
from tests.integration.realtime.conftest import (
    REGION,
    Estate,
    Queues,
    eventually,
    history,
    wait_history,
)

pytestmark = pytest.mark.integration


def batches_for(sink: SnapshotSink, event_id: str) -> list[SnapshotBatch]:
    return [b for b in sink.batches if any(c.event_id == event_id for c in b.callers)]


async def send_and_wait(queues: Queues, sink: SnapshotSink, event: dict[str, Any]) -> SnapshotBatch:
    event_id = event["detail"]["eventID"]
    queues.send(event)
    found = await eventually(lambda: batches_for(sink, event_id), what=f"snapshot of {event_id}")
    assert len(found) == 1
    return found[0]


def assert_matches_aws(batch: SnapshotBatch, estate: Estate, group_id: str) -> None:
    """The published group is exactly what AWS (moto) holds now."""
    assert batch.source == "event"
    assert [g.config.group_id for g in batch.groups] == [group_id]
    truth = canonical_from_aws(estate.describe(group_id))
    assert batch.groups[0].fingerprint == truth.fingerprint()


async def recorded_as(
    db: Database,
    estate: Estate,
    group_id: str,
    seq: int,
    change_type: str,
    batch: SnapshotBatch,
) -> dict[str, Any]:
    """The auditor recorded `batch` as revision `seq`, and its event, with the callers."""
    revisions = await wait_history(db, estate.account_id, group_id, seq)
    assert len(revisions) == seq, [r["change_type"] for r in revisions]
    revision = revisions[-1]
    assert revision["change_type"] == change_type
    wanted = sorted(c.event_id for c in batch.callers)
    assert sorted(c["event_id"] for c in revision["callers"]) == wanted
    assert all(c["arn"] for c in revision["callers"])
    if change_type in ("changed", "deleted"):
        assert revision["changes"] or change_type == "deleted"
    events = await eventually(
        lambda: db.events.find(
            {"key": revision["key"], "type": f"group.{change_type}", "seq": seq}
        ).to_list(None),
        what=f"group.{change_type} event",
    )
    assert sorted(c["event_id"] for c in events[0]["callers"]) == wanted
    # The item is the auditor's commit point, written after the revision and the event.
    await eventually(
        lambda: db.items.find_one({"_id": revision["key"], "seq": {"$gte": seq}}),
        what=f"the item committed at revision {seq}",
    )
    return dict(revision)


def ingress_rule_id(estate: Estate, group_id: str, port: int) -> str:
    rules = estate.ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}]
    )["SecurityGroupRules"]
    return str(
        next(r for r in rules if not r["IsEgress"] and r.get("FromPort") == port)[
            "SecurityGroupRuleId"
        ]
    )


async def test_every_recorded_event_name_leads_to_a_revision_that_says_who(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    ec2 = estate.ec2
    async with running(settings):
        group_id = estate.create_group("payments-api")
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Owner", "Value": "alice"}])
        batch = await send_and_wait(queues, sink, estate.event("CreateSecurityGroup", group_id))
        await recorded_as(db, estate, group_id, 1, "created", batch)
        assert_matches_aws(batch, estate, group_id)
        caller = batch.callers[0]
        assert caller.event_name == "CreateSecurityGroup"
        assert caller.arn == (
            f"arn:aws:sts::{estate.account_id}:assumed-role/DeveloperAccess/alice@example.com"
        )
        assert caller.source_ip == "203.0.113.24"
        assert caller.user_agent is not None and caller.user_agent.startswith("aws-cli/")
        assert batch.vpcs and batch.vpcs[0].vpc_id == estate.default_vpc
        assert batch.vpcs[0].is_default

        ssh = {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary ssh"}],
        }
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[ssh])
        batch = await send_and_wait(
            queues, sink, estate.event("AuthorizeSecurityGroupIngress", group_id)
        )
        revision = await recorded_as(db, estate, group_id, 2, "changed", batch)
        assert "+ ingress tcp/22 from 0.0.0.0/0" in revision["changes"]
        assert_matches_aws(batch, estate, group_id)
        assert any(
            r.text() == "ingress tcp/22 from 0.0.0.0/0" for r in batch.groups[0].config.rules
        )

        pg = {
            "IpProtocol": "tcp",
            "FromPort": 5432,
            "ToPort": 5432,
            "IpRanges": [{"CidrIp": "10.20.0.0/16"}],
        }
        ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[pg])
        batch = await send_and_wait(
            queues, sink, estate.event("AuthorizeSecurityGroupEgress", group_id)
        )
        await recorded_as(db, estate, group_id, 3, "changed", batch)
        assert_matches_aws(batch, estate, group_id)
        assert batch.callers[0].arn == f"arn:aws:iam::{estate.account_id}:user/terraform-ci"

        ssh["IpRanges"] = [{"CidrIp": "0.0.0.0/0", "Description": "bastion (ticket SEC-123)"}]
        ec2.update_security_group_rule_descriptions_ingress(GroupId=group_id, IpPermissions=[ssh])
        batch = await send_and_wait(
            queues, sink, estate.event("UpdateSecurityGroupRuleDescriptionsIngress", group_id)
        )
        await recorded_as(db, estate, group_id, 4, "changed", batch)
        assert_matches_aws(batch, estate, group_id)
        assert "bastion (ticket SEC-123)" in {r.description for r in batch.groups[0].config.rules}

        pg["IpRanges"] = [{"CidrIp": "10.20.0.0/16", "Description": "reporting db"}]
        ec2.update_security_group_rule_descriptions_egress(GroupId=group_id, IpPermissions=[pg])
        batch = await send_and_wait(
            queues, sink, estate.event("UpdateSecurityGroupRuleDescriptionsEgress", group_id)
        )
        await recorded_as(db, estate, group_id, 5, "changed", batch)
        assert_matches_aws(batch, estate, group_id)

        ec2.modify_security_group_rules(
            GroupId=group_id,
            SecurityGroupRules=[
                {
                    "SecurityGroupRuleId": ingress_rule_id(estate, group_id, 22),
                    "SecurityGroupRule": {
                        "IpProtocol": "tcp",
                        "FromPort": 3389,
                        "ToPort": 3389,
                        "CidrIpv4": "0.0.0.0/0",
                        "Description": "rdp for vendor",
                    },
                }
            ],
        )
        batch = await send_and_wait(
            queues, sink, estate.event("ModifySecurityGroupRules", group_id)
        )
        await recorded_as(db, estate, group_id, 6, "changed", batch)
        assert_matches_aws(batch, estate, group_id)
        assert batch.callers[0].user_agent == "console.ec2.amazonaws.com"
        texts = {r.text() for r in batch.groups[0].config.rules}
        assert "ingress tcp/3389 from 0.0.0.0/0" in texts
        assert "ingress tcp/22 from 0.0.0.0/0" not in texts

        rdp = {
            "IpProtocol": "tcp",
            "FromPort": 3389,
            "ToPort": 3389,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        }
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[rdp])
        batch = await send_and_wait(
            queues, sink, estate.event("RevokeSecurityGroupIngress", group_id)
        )
        await recorded_as(db, estate, group_id, 7, "changed", batch)
        assert_matches_aws(batch, estate, group_id)
        assert not [r for r in batch.groups[0].config.rules if r.direction == "ingress"]

        everything = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[everything])
        batch = await send_and_wait(
            queues, sink, estate.event("RevokeSecurityGroupEgress", group_id)
        )
        await recorded_as(db, estate, group_id, 8, "changed", batch)
        assert_matches_aws(batch, estate, group_id)
        assert [r.text() for r in batch.groups[0].config.rules] == [
            "egress tcp/5432 to 10.20.0.0/16"
        ]

        ec2.create_tags(
            Resources=[group_id],
            Tags=[{"Key": "Owner", "Value": "bob"}, {"Key": "CostCenter", "Value": "42"}],
        )
        batch = await send_and_wait(queues, sink, estate.event("CreateTags", group_id))
        revision = await recorded_as(db, estate, group_id, 9, "changed", batch)
        assert "tag Owner: alice → bob" in revision["changes"]
        assert batch.groups[0].config.tags == {"CostCenter": "42", "Owner": "bob"}

        ec2.delete_tags(Resources=[group_id], Tags=[{"Key": "CostCenter"}])
        batch = await send_and_wait(queues, sink, estate.event("DeleteTags", group_id))
        await recorded_as(db, estate, group_id, 10, "changed", batch)
        assert batch.groups[0].config.tags == {"Owner": "bob"}

        ec2.delete_security_group(GroupId=group_id)
        batch = await send_and_wait(queues, sink, estate.event("DeleteSecurityGroup", group_id))
        await recorded_as(db, estate, group_id, 11, "deleted", batch)
        item = await db.items.find_one({"_id": item_key(estate.account_id, REGION, group_id)})
        assert item is not None and item["state"] == "deleted"
        assert batch.groups == [] and batch.missing_group_ids == [group_id]
        assert batch.callers[0].event_name == "DeleteSecurityGroup"

    # Every handled message was deleted from the queue; nothing went to the DLQ.
    assert queues.counts() == (0, 0)
    assert queues.counts(queues.dlq_url) == (0, 0)


async def test_default_vpc_calls_by_group_name(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    ec2 = estate.ec2
    group_id = estate.create_group("legacy-db")
    # The same name in another VPC must not be taken for the default VPC's group.
    other_vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    other_id = estate.create_group("legacy-db", vpc_id=other_vpc)
    async with running(settings):
        mysql = {
            "IpProtocol": "tcp",
            "FromPort": 3306,
            "ToPort": 3306,
            "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
        }
        ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[mysql])
        event = estate.event("AuthorizeSecurityGroupIngress.by-name", group_name="legacy-db")
        batch = await send_and_wait(queues, sink, event)
        assert_matches_aws(batch, estate, group_id)
        assert batch.callers[0].arn == f"arn:aws:iam::{estate.account_id}:root"
        assert other_id not in {g.config.group_id for b in sink.batches for g in b.groups}

        await recorded_as(db, estate, group_id, 1, "created", batch)

        # A delete by name: the group is gone, its ID comes from the stored history.
        ec2.delete_security_group(GroupId=group_id)
        event = estate.event("DeleteSecurityGroup.by-name", group_name="legacy-db")
        batch = await send_and_wait(queues, sink, event)
        assert batch.missing_group_ids == [group_id] and batch.groups == []
        assert batch.callers[0].event_name == "DeleteSecurityGroup"
        await recorded_as(db, estate, group_id, 2, "deleted", batch)
    assert [r["change_type"] for r in await history(db, estate.account_id, other_id)] == []


async def test_a_burst_of_50_events_on_one_group_is_one_describe_and_one_revision(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    group_id = estate.create_group("burst")
    names = ["AuthorizeSecurityGroupIngress", "CreateTags", "RevokeSecurityGroupEgress"]
    events = [estate.event(names[n % 3], group_id) for n in range(50)]
    settings = settings.model_copy(update={"events_window_seconds": 3.0})
    describes: list[str] = []
    # Queued before the consumer starts: it takes ten at a time, all within one window.
    await asyncio.to_thread(queues.send_many, events)
    async with running(settings) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        app.state.collector.clients.events.register(
            "before-call.ec2.DescribeSecurityGroups",
            lambda model, **_: describes.append(model.name),
        )
        await eventually(lambda: sink.batches, what="the burst's snapshot")
        await eventually(lambda: queues.counts() == (0, 0), what="the burst deleted from SQS")
        await asyncio.sleep(settings.events_window_seconds + 0.5)
    assert describes == ["DescribeSecurityGroups"]
    assert len(sink.batches) == 1
    batch = sink.batches[0]
    assert [g.config.group_id for g in batch.groups] == [group_id]
    assert sorted(c.event_id for c in batch.callers) == sorted(
        e["detail"]["eventID"] for e in events
    )
    revisions = await wait_history(db, estate.account_id, group_id, 1)
    await asyncio.sleep(1)  # nothing more arrives
    revisions = await history(db, estate.account_id, group_id)
    assert len(revisions) == 1 and revisions[0]["change_type"] == "created"
    assert len(revisions[0]["callers"]) == 50


async def test_one_window_on_two_groups_is_one_snapshot_and_each_revision_names_its_callers(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    first, second = estate.create_group("multi-a"), estate.create_group("multi-b")
    estate.ec2.create_tags(Resources=[first, second], Tags=[{"Key": "Team", "Value": "core"}])
    estate.ec2.authorize_security_group_ingress(
        GroupId=first,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    tags = estate.event("CreateTags", first)
    tags["detail"]["requestParameters"]["resourcesSet"]["items"] = [
        {"resourceId": first},
        {"resourceId": second},
    ]
    authorize = estate.event("AuthorizeSecurityGroupIngress", first)
    await asyncio.to_thread(queues.send_many, [tags, authorize])
    async with running(settings.model_copy(update={"events_window_seconds": 2.0})):
        revisions_a = await wait_history(db, estate.account_id, first, 1)
        revisions_b = await wait_history(db, estate.account_id, second, 1)
    assert len(sink.batches) == 1
    assert {g.config.group_id for g in sink.batches[0].groups} == {first, second}
    tag_id, authorize_id = tags["detail"]["eventID"], authorize["detail"]["eventID"]
    assert sorted(c["event_id"] for c in revisions_a[0]["callers"]) == sorted(
        [tag_id, authorize_id]
    )
    assert [c["event_id"] for c in revisions_b[0]["callers"]] == [tag_id]


async def test_duplicates_and_a_delete_before_the_authorize_that_preceded_it(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    ec2 = estate.ec2
    group_id = estate.create_group("short-lived")
    async with running(settings):
        tag = estate.event("CreateTags", group_id)
        ec2.create_tags(Resources=[group_id], Tags=[{"Key": "Owner", "Value": "bob"}])
        first = await send_and_wait(queues, sink, tag)
        # The same event again, later: described afresh, the same version.
        queues.send(tag)
        again = await eventually(
            lambda: [b for b in batches_for(sink, tag["detail"]["eventID"]) if b is not first],
            what="the duplicate's snapshot",
        )
        assert again[0].groups[0].fingerprint == first.groups[0].fingerprint
        assert again[0].observed_at >= first.observed_at

        # Authorize, then delete; the delete's event arrives first.
        authorize = estate.event("AuthorizeSecurityGroupIngress", group_id)
        ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        ec2.delete_security_group(GroupId=group_id)
        deleted = await send_and_wait(queues, sink, estate.event("DeleteSecurityGroup", group_id))
        late = await send_and_wait(queues, sink, authorize)
        # Neither snapshot pretends the group exists: the late authorize cannot revive it.
        assert deleted.missing_group_ids == [group_id] and deleted.groups == []
        assert late.missing_group_ids == [group_id] and late.groups == []
    assert queues.counts() == (0, 0)
    # History: created, then deleted by the delete's caller; the duplicate and the late
    # authorize left no trace, and the group was not brought back.
    key = item_key(estate.account_id, REGION, group_id)
    item = await eventually(
        lambda: db.items.find_one({"_id": key, "seq": {"$gte": 2}}), what="the deletion"
    )
    assert item["state"] == "deleted" and item["seq"] == 2
    revisions = await history(db, estate.account_id, group_id)
    assert [r["change_type"] for r in revisions] == ["created", "deleted"]
    assert [c["event_name"] for c in revisions[1]["callers"]] == ["DeleteSecurityGroup"]


async def test_a_failed_call_and_tags_on_instances_are_deleted_without_a_snapshot(
    settings: Settings, queues: Queues, estate: Estate, sink: SnapshotSink
) -> None:
    group_id = estate.create_group("quiet")
    tags = estate.event("CreateTags", group_id)
    tags["detail"]["requestParameters"]["resourcesSet"]["items"] = [{"resourceId": "i-0abc"}]
    async with running(settings):
        queues.send(estate.event("AuthorizeSecurityGroupIngress.error", group_id))
        queues.send(tags)
        await eventually(lambda: queues.counts() == (0, 0), what="both deleted")
        await asyncio.sleep(settings.events_window_seconds + 0.5)
    assert sink.batches == []


async def test_a_malformed_event_goes_to_the_dead_letter_queue_and_the_consumer_goes_on(
    settings: Settings, queues: Queues, estate: Estate, sink: SnapshotSink
) -> None:
    group_id = estate.create_group("after-the-bad-one")
    before = metrics.EVENTS.labels("malformed")._value.get()
    async with running(settings):
        queues.send("{this is not an event")
        truncated = estate.event("AuthorizeSecurityGroupIngress", group_id)
        del truncated["detail"]["recipientAccountId"]
        queues.send(truncated)
        dead = await eventually(
            lambda: queues.counts(queues.dlq_url)[0] == 2, what="both in the DLQ"
        )
        assert dead
        # The consumer keeps going.
        await send_and_wait(queues, sink, estate.event("CreateTags", group_id))
    bodies = queues.dead_letters()
    assert "{this is not an event" in bodies
    assert metrics.EVENTS.labels("malformed")._value.get() - before >= 2
    assert queues.counts() == (0, 0)


async def test_messages_are_deleted_only_after_rabbitmq_confirmed_the_snapshot(
    settings: Settings, queues: Queues, estate: Estate, rabbit: Any, unique: str
) -> None:
    # Nothing is bound to this routing prefix yet: RabbitMQ returns the snapshot unroutable
    # (mandatory publish), so it is never confirmed as delivered.
    prefix = f"unbound-{unique}"
    settings = settings.model_copy(update={"routing_prefix": prefix})
    group_id = estate.create_group("unconfirmed")
    async with running(settings):
        queues.send(estate.event("CreateTags", group_id))
        await eventually(lambda: queues.counts() == (0, 1), what="the event received")
        await asyncio.sleep(settings.events_window_seconds + 7)
        assert queues.counts() == (0, 1), "the event was deleted without a confirmed snapshot"

        # Once a queue takes the snapshots, the returning event is handled and deleted.
        sink = SnapshotSink()
        channel = await rabbit.channel()
        from secmonkey.common import amqp
        from secmonkey.common.messages import SNAPSHOTS_EXCHANGE

        exchanges = await amqp.declare_exchanges(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchanges[SNAPSHOTS_EXCHANGE], routing_key=f"{prefix}.#")
        await queue.consume(sink.on_message)
        await eventually(lambda: sink.batches, timeout=30, what="the snapshot after redelivery")
        await eventually(lambda: queues.counts() == (0, 0), what="the event deleted")
        await channel.close()
    assert sink.batches[0].groups[0].config.group_id == group_id


async def test_a_vpc_read_lately_is_not_read_again_by_the_next_describe(
    settings: Settings, queues: Queues, estate: Estate, sink: SnapshotSink
) -> None:
    """At ten changes a second the VPC read was a third of the EC2 calls: two describes a
    few seconds apart read their groups' VPC once, and both snapshots carry it."""
    first, second = estate.create_group("first"), estate.create_group("second")
    vpc_reads: list[str] = []
    async with running(settings) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        app.state.collector.clients.events.register(
            "before-call.ec2.DescribeVpcs", lambda model, **_: vpc_reads.append(model.name)
        )
        one = await send_and_wait(
            queues, sink, estate.event("AuthorizeSecurityGroupIngress", first)
        )
        two = await send_and_wait(
            queues, sink, estate.event("AuthorizeSecurityGroupIngress", second)
        )
    assert vpc_reads == ["DescribeVpcs"]
    assert one.vpcs and one.vpcs == two.vpcs
    assert_matches_aws(two, estate, second)
