"""A small hand-built topology: a VPC with a public and a private subnet, an internet
gateway, a network ACL, two instances and a load balancer (no servers needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from secmonkey.common.topology import (
    AclEntry,
    Interface,
    Listener,
    LoadBalancer,
    NetworkAcl,
    Route,
    RouteTable,
    Subnet,
    Topology,
)

ALLOW_ALL = [
    AclEntry(number=100, egress=False, protocol="-1", cidr="0.0.0.0/0", allow=True),
    AclEntry(number=100, egress=True, protocol="-1", cidr="0.0.0.0/0", allow=True),
    AclEntry(number=101, egress=False, protocol="-1", cidr="::/0", allow=True),
    AclEntry(number=101, egress=True, protocol="-1", cidr="::/0", allow=True),
]


def topology(
    *,
    public_route: bool = True,
    v6_target: str = "igw-1",
    acl_entries: list[AclEntry] | None = None,
    prefix_lists: dict[str, list[str]] | None = None,
    users: dict[str, list[str]] | None = None,
) -> Topology:
    public_routes = [Route(destination="10.0.0.0/16", target="local")]
    if public_route:
        public_routes.append(Route(destination="0.0.0.0/0", target="igw-1"))
    public_routes.append(Route(destination="::/0", target=v6_target))
    return Topology(
        account_id="111111111111",
        region="us-east-1",
        observed_at=datetime(2026, 12, 1, tzinfo=UTC),
        subnets=[
            Subnet(id="subnet-pub", vpc_id="vpc-1", cidrs=["10.0.1.0/24", "2600:1f18::/64"]),
            Subnet(id="subnet-priv", vpc_id="vpc-1", cidrs=["10.0.2.0/24"]),
        ],
        route_tables=[
            RouteTable(
                id="rtb-main",
                vpc_id="vpc-1",
                main=True,
                routes=[Route(destination="10.0.0.0/16", target="local")],
            ),
            RouteTable(
                id="rtb-pub", vpc_id="vpc-1", subnet_ids=["subnet-pub"], routes=public_routes
            ),
        ],
        internet_gateways={"igw-1": ["vpc-1"]},
        egress_only_gateways=["eigw-1"],
        network_acls=[
            NetworkAcl(
                id="acl-1",
                vpc_id="vpc-1",
                default=True,
                subnet_ids=["subnet-pub", "subnet-priv"],
                entries=acl_entries if acl_entries is not None else ALLOW_ALL,
            )
        ],
        interfaces=[
            Interface(
                id="eni-1",
                subnet_id="subnet-pub",
                vpc_id="vpc-1",
                instance_id="i-1",
                group_ids=["sg-1"],
                public_ipv4="54.1.2.3",
                elastic_ip=True,
                ipv6=["2600:1f18::10"],
            ),
            Interface(
                id="eni-2",
                subnet_id="subnet-priv",
                vpc_id="vpc-1",
                instance_id="i-2",
                group_ids=["sg-1"],
                public_ipv4="54.1.2.4",
            ),
        ],
        load_balancers=[
            LoadBalancer(
                id="web-lb",
                kind="application",
                dns_name="web-lb.example.com",
                vpc_id="vpc-1",
                subnet_ids=["subnet-pub"],
                group_ids=["sg-lb"],
                listeners=[Listener(protocol="https", port=443)],
            )
        ],
        prefix_lists=prefix_lists or {},
        group_users=users or {},
    )
