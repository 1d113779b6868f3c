"""The exposure part of the simulated estate (issue 16): per account, in its first region,
a VPC with a public subnet (routed to an internet gateway) and a private one, a network
ACL that denies RDP from the internet, a web instance with an Elastic IP and an app
instance in the private subnet behind one group open on 22, 443 and 3389, and an
internet-facing load balancer on 443. The demo then shows a critical, reachable SSH
finding next to the same rule lowered where nothing is reachable."""

from __future__ import annotations

from typing import Any

AMI = "ami-12c6146b"


def _open(ports: tuple[int, ...]) -> list[dict[str, Any]]:
    return [
        {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        for p in ports
    ]


def add_network(ec2: Any, elbv2: Any, region: str) -> dict[str, str]:
    """Create the exposure network in the region `ec2` acts in; returns what was made."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone=f"{region}a")
    public_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.3.0/24", AvailabilityZone=f"{region}b")
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone=f"{region}a")
    public_id, public_b_id = public["Subnet"]["SubnetId"], public_b["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for subnet in (public_id, public_b_id):
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=90, Protocol="6", RuleAction="deny", Egress=False,
        CidrBlock="0.0.0.0/0", PortRange={"From": 3389, "To": 3389},
    )  # fmt: skip
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=egress,
            CidrBlock="0.0.0.0/0",
        )  # fmt: skip
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [public_id]}]
    )["NetworkAcls"][0]
    association = next(
        a["NetworkAclAssociationId"] for a in current["Associations"] if a["SubnetId"] == public_id
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    web = ec2.create_security_group(
        GroupName="web-public", Description="web tier, open to the internet", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=_open((22, 443, 3389)))
    lb_group = ec2.create_security_group(
        GroupName="web-lb", Description="public load balancer", VpcId=vpc
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=lb_group, IpPermissions=_open((80, 443)))
    made: dict[str, str] = {"vpc": vpc, "igw": igw, "acl": acl, "web": web, "lb_group": lb_group}
    for name, subnet in (
        ("web_instance", public_id),
        ("app_instance", private["Subnet"]["SubnetId"]),
    ):
        made[name] = ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[web]
        )["Instances"][0]["InstanceId"]
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(InstanceId=made["web_instance"], AllocationId=address["AllocationId"])
    made["eip"] = address["PublicIp"]
    lb = elbv2.create_load_balancer(
        Name="web-public", Subnets=[public_id, public_b_id], SecurityGroups=[lb_group],
        Scheme="internet-facing", Type="application",
    )["LoadBalancers"][0]  # fmt: skip
    target = elbv2.create_target_group(Name="web-public", Protocol="HTTP", Port=80, VpcId=vpc)
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=443,
        DefaultActions=[
            {"Type": "forward", "TargetGroupArn": target["TargetGroups"][0]["TargetGroupArn"]}
        ],
    )  # fmt: skip
    made["load_balancer"] = lb["LoadBalancerName"]
    return made
