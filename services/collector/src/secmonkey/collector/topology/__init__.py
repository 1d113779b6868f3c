"""Reading the network around the groups of one account-region (issue 16, reachability).

`read_topology` makes the calls listed in `OPERATIONS` (deploy/iam grants them), every
list followed through all its pages. The interfaces and groups come from the region read
that precedes it, so `DescribeNetworkInterfaces` is made once per sweep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from secmonkey.collector.topology import balancers, network, users
from secmonkey.common.topology import Topology

OPERATIONS = {
    "ec2": (
        "DescribeSubnets",
        "DescribeRouteTables",
        "DescribeInternetGateways",
        "DescribeEgressOnlyInternetGateways",
        "DescribeNetworkAcls",
        "GetManagedPrefixListEntries",
        "DescribeLaunchTemplateVersions",
    ),
    "elasticloadbalancing": ("DescribeLoadBalancers", "DescribeListeners"),
    "autoscaling": ("DescribeAutoScalingGroups", "DescribeLaunchConfigurations"),
    "rds": ("DescribeDBInstances",),
    "lambda": ("ListFunctions",),
}

ClientFor = Callable[[str], Any]


def read_topology(
    client_for: ClientFor,
    account_id: str,
    region: str,
    observed_at: datetime,
    raw_groups: list[dict[str, Any]],
    raw_interfaces: list[dict[str, Any]],
) -> Topology:
    """The account-region's topology; raises (`IncompleteRead`, botocore errors) unless
    every call was read in full."""
    ec2 = client_for("ec2")
    used: users.Users = {}
    for group_id, names in network.group_references(raw_groups).items():
        used.setdefault(group_id, set()).update(names)
    users.launch_templates(ec2, used)
    users.autoscaling(client_for("autoscaling"), used)
    users.rds(client_for("rds"), used)
    users.lambdas(client_for("lambda"), used)
    load_balancers = balancers.elbv2(client_for("elbv2")) + balancers.classic(client_for("elb"))
    for lb in load_balancers:
        users.add(used, lb.group_ids, f"load balancer {lb.id}")
    return Topology(
        account_id=account_id,
        region=region,
        observed_at=observed_at,
        subnets=network.subnets(ec2),
        route_tables=network.route_tables(ec2),
        internet_gateways=network.internet_gateways(ec2),
        egress_only_gateways=network.egress_only_gateways(ec2),
        network_acls=network.network_acls(ec2),
        interfaces=network.interfaces(raw_interfaces),
        load_balancers=[lb for lb in load_balancers if lb.scheme == "internet-facing"],
        prefix_lists=network.prefix_lists(ec2, network.referenced_prefix_lists(raw_groups)),
        group_users={g: sorted(names) for g, names in sorted(used.items())},
    )
