"""A moto estate for reachability: a VPC with a public subnet (routed to an internet
gateway) and a private one, i-1 with an Elastic IP in the public subnet, i-2 in the
private subnet, both behind a group open on tcp/22 and tcp/443 to the internet; and the
sweep path (region read, topology read, batches) up to the auditor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

from secmonkey.collector.sweeper import snapshot_batches
from secmonkey.collector.topology.region import read_with_topology
from secmonkey.common.messages import SnapshotBatch
from tests.support.servers import MotoServer

ACCOUNT = "123456789012"  # moto's account for the hub's own credentials
REGION = "eu-west-1"


SERVICES = ("ec2", "autoscaling", "rds", "lambda", "elbv2", "elb", "ecs")


def clients(moto: MotoServer) -> Any:
    """One client per service, made up front (a session may not make clients on several
    threads; the sweep path reads the topology beside the groups)."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    made = {s: session.client(s, region_name=REGION, endpoint_url=moto.url) for s in SERVICES}
    return made.__getitem__


@dataclass
class Estate:
    vpc: str
    igw: str
    public_subnet: str
    private_subnet: str
    public_table: str
    web: str  # the group open on 22 and 443
    i1: str
    i2: str
    eip: str


def build(client: Any) -> Estate:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.2.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=table, SubnetId=public)
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            for p in (22, 443)
        ],
    )
    i1 = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=public, SecurityGroupIds=[web]
    )["Instances"][0]["InstanceId"]
    i2 = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=private, SecurityGroupIds=[web]
    )["Instances"][0]["InstanceId"]
    allocation = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(InstanceId=i1, AllocationId=allocation["AllocationId"])
    return Estate(vpc, igw, public, private, table, web, i1, i2, allocation["PublicIp"])


def sweep(client: Any, sweep_id: str) -> list[SnapshotBatch]:
    """What the collector's sweep of the region publishes (topology on the first batch)."""
    read = read_with_topology(client, ACCOUNT, REGION)
    return snapshot_batches(sweep_id, ACCOUNT, REGION, read, 200)
