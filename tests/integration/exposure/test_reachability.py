"""Reachability end to end on moto and the real database: the collector's reads, the
auditor's exposure, the issues a security engineer sees."""

from __future__ import annotations

from typing import Any

import pytest

from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.documents import issue_id
from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database
from tests.integration.exposure.estate import ACCOUNT, REGION, Estate, build, clients, sweep
from tests.support.servers import MotoServer

pytestmark = pytest.mark.integration

SSH = "ingress tcp/22 from 0.0.0.0/0"


async def audit(auditor: Auditor, client: Any, sweep_id: str) -> list[Any]:
    events = []
    for batch in sweep(client, sweep_id):
        events += await auditor.handle(batch)
    return events


async def ssh_issue(db: Database, estate: Estate) -> dict[str, Any]:
    key = item_key(ACCOUNT, REGION, estate.web)
    issue = await db.issues.find_one({"_id": issue_id(key, "internet-admin-port", SSH)})
    assert issue is not None
    return issue


async def test_public_instance_is_critical_private_one_is_not_and_a_lost_route_lowers_it(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    client = clients(moto)
    estate = build(client)
    auditor = Auditor(db, RulesConfig())
    await audit(auditor, client, "s1")

    issue = await ssh_issue(db, estate)
    assert issue["severity"] == "critical"
    assert (
        f"{estate.i1} ({estate.eip}) tcp/22 via {estate.public_table}/{estate.igw}"
        in issue["message"]
    )
    assert estate.i2 not in issue["message"]  # private subnet: not reachable
    filed = await db.exposures.find({"group_id": estate.web}).to_list(None)
    assert {(d["resource_id"], d["address"], d["ports"]) for d in filed} == {
        (estate.i1, estate.eip, "tcp/22"),
        (estate.i1, estate.eip, "tcp/443"),
    }

    # The internet gateway's route goes: the next sweep lowers the same issue.
    client("ec2").delete_route(RouteTableId=estate.public_table, DestinationCidrBlock="0.0.0.0/0")
    await audit(auditor, client, "s2")
    issue = await ssh_issue(db, estate)
    assert (issue["severity"], issue["status"]) == ("medium", "open")
    assert "not reachable from the internet" in issue["message"]
    assert await db.exposures.count_documents({"group_id": estate.web}) == 0
    assert (
        await db.issues.count_documents({"rule_id": "internet-admin-port", "group_id": estate.web})
        == 1
    )

    # ... and putting it back escalates it (the group itself never changed).
    client("ec2").create_route(
        RouteTableId=estate.public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=estate.igw
    )
    events = await audit(auditor, client, "s3")
    escalated = [e for e in events if e.type == "issue.escalated"]
    assert {(e.issue.rule_id, e.issue.severity, e.issue.previous_severity) for e in escalated} == {
        ("internet-admin-port", "critical", "medium"),
        ("internet-ingress", "low", "info"),  # tcp/443: reachable again, its default
    }
    assert await db.revisions.count_documents({"key": item_key(ACCOUNT, REGION, estate.web)}) == 1


async def test_network_acl_denying_22_makes_the_instance_unreachable_on_22(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    client = clients(moto)
    estate = build(client)
    ec2 = client("ec2")
    acl = ec2.create_network_acl(VpcId=estate.vpc)["NetworkAcl"]["NetworkAclId"]
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=acl,
            RuleNumber=200,
            Protocol="-1",
            RuleAction="allow",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=100,
        Protocol="6",
        RuleAction="deny",
        Egress=False,
        CidrBlock="0.0.0.0/0",
        PortRange={"From": 22, "To": 22},
    )
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [estate.public_subnet]}]
    )["NetworkAcls"][0]
    association = next(
        a["NetworkAclAssociationId"]
        for a in current["Associations"]
        if a["SubnetId"] == estate.public_subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    await audit(Auditor(db, RulesConfig()), client, "s1")

    issue = await ssh_issue(db, estate)
    assert issue["severity"] == "medium"  # high, lowered: nothing reachable on 22
    filed = await db.exposures.find({"group_id": estate.web}).to_list(None)
    assert {(d["resource_id"], d["ports"], d["nacl"]) for d in filed} == {
        (estate.i1, "tcp/443", acl)
    }


async def test_internet_facing_load_balancer_is_reachable_on_its_listener_port_only(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    client = clients(moto)
    estate = build(client)
    ec2 = client("ec2")
    lb_group = ec2.create_security_group(GroupName="lb", Description="lb", VpcId=estate.vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=lb_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 0,
                "ToPort": 65535,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    second = ec2.create_subnet(
        VpcId=estate.vpc, CidrBlock="10.42.3.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    elbv2 = client("elbv2")
    lb = elbv2.create_load_balancer(
        Name="web-lb",
        Subnets=[estate.public_subnet, second],
        SecurityGroups=[lb_group],
        Scheme="internet-facing",
        Type="application",
    )["LoadBalancers"][0]
    target = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=estate.vpc)
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=443,
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": target["TargetGroups"][0]["TargetGroupArn"]}
        ],
    )
    await audit(Auditor(db, RulesConfig()), client, "s1")

    filed = await db.exposures.find({"group_id": lb_group}).to_list(None)
    assert [
        (d["resource_type"], d["resource_id"], d["from_port"], d["to_port"]) for d in filed
    ] == [("load_balancer", "web-lb", 443, 443)]
    key = item_key(ACCOUNT, REGION, lb_group)
    item = await db.items.find_one({"_id": key})
    assert item["attachments"]["users"] == ["load balancer web-lb"]  # moto gives it no ENI
    assert await db.issues.count_documents({"key": key, "rule_id": "unused-group"}) == 0


async def test_prefix_list_holding_the_internet_and_a_launch_template_user(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    client = clients(moto)
    estate = build(client)
    ec2 = client("ec2")
    pl = ec2.create_managed_prefix_list(
        PrefixListName="everyone",
        MaxEntries=5,
        AddressFamily="IPv4",
        Entries=[{"Cidr": "0.0.0.0/0"}],
    )["PrefixList"]["PrefixListId"]
    via_pl = ec2.create_security_group(GroupName="pl", Description="pl", VpcId=estate.vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=via_pl,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3389,
                "ToPort": 3389,
                "PrefixListIds": [{"PrefixListId": pl}],
            }
        ],
    )
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        SubnetId=estate.public_subnet,
        SecurityGroupIds=[via_pl],
    )
    templated = ec2.create_security_group(GroupName="lt", Description="lt", VpcId=estate.vpc)[
        "GroupId"
    ]
    lonely = ec2.create_security_group(GroupName="lonely", Description="x", VpcId=estate.vpc)[
        "GroupId"
    ]
    ec2.create_launch_template(
        LaunchTemplateName="asg-at-zero",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "SecurityGroupIds": [templated]},
    )
    await audit(Auditor(db, RulesConfig()), client, "s1")

    pl_key = item_key(ACCOUNT, REGION, via_pl)
    rdp = await db.issues.find_one({"key": pl_key, "rule_id": "internet-admin-port"})
    assert rdp is not None and pl in rdp["message"]
    assert rdp["severity"] == "medium"  # no public address on that instance: lowered
    unused = {
        d["group_id"]
        async for d in db.issues.find(
            {"rule_id": "unused-group", "status": "open"}, {"group_id": 1}
        )
    }
    assert lonely in unused
    assert templated not in unused


async def test_a_group_named_only_by_an_ecs_service_at_zero_tasks_is_not_unused(
    db: Database, moto: MotoServer, aws_env: None
) -> None:
    """An awsvpc ECS service scaled to zero has no interface; its group is still in use."""
    client = clients(moto)
    estate = build(client)
    ec2, ecs = client("ec2"), client("ecs")
    served = ec2.create_security_group(GroupName="svc", Description="svc", VpcId=estate.vpc)[
        "GroupId"
    ]
    lonely = ec2.create_security_group(GroupName="alone", Description="x", VpcId=estate.vpc)[
        "GroupId"
    ]
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(
        family="api",
        networkMode="awsvpc",
        containerDefinitions=[{"name": "api", "image": "nginx", "memory": 128}],
    )
    ecs.create_service(
        cluster="apps",
        serviceName="api",
        taskDefinition="api",
        desiredCount=0,
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [estate.private_subnet],
                "securityGroups": [served],
            }
        },
    )
    batches = sweep(client, "s1")
    assert batches[0].topology is not None
    assert batches[0].topology.group_users[served] == ["ECS service api"]
    await audit(Auditor(db, RulesConfig()), client, "s2")
    unused = {
        d["group_id"]
        async for d in db.issues.find(
            {"rule_id": "unused-group", "status": "open"}, {"group_id": 1}
        )
    }
    assert lonely in unused
    assert served not in unused
