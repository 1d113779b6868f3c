"""Reading the network around the groups of one account-region (issue 16, reachability).

`read_topology` makes the calls listed in `OPERATIONS` (deploy/iam grants them), every
list followed through all its pages. It has two halves: `PendingSurroundings` needs
nothing from the group read, so it runs beside it (each service's calls on a thread of
their own, in the order listed, one client per thread); `assemble` then adds what depends
on the groups, interfaces and load balancers read, so `DescribeNetworkInterfaces` is made
once per sweep.

The network path (subnets, route tables, internet and egress-only gateways, network ACLs:
five calls) decides only whether the internet reaches an interface with an internet
address or an internet-facing load balancer, so `assemble` reads it only when the
account-region has one (`reachable_at_all`): most account-regions of an estate have none,
and skip five of about sixteen calls. Likewise `DescribeAutoScalingGroups` only names the
Auto Scaling groups of launch configurations, so it is made only when there are some.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from secmonkey.collector.topology import balancers, network, users
from secmonkey.common.topology import (
    LoadBalancer,
    NetworkAcl,
    RouteTable,
    Subnet,
    Topology,
    reachable_at_all,
)

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
    "ecs": ("ListClusters", "ListServices", "DescribeServices"),
}

ClientFor = Callable[[str], Any]


@dataclass
class Surroundings:
    """What the topology holds that does not depend on the region's groups."""

    load_balancers: list[LoadBalancer] = field(default_factory=list)
    users: users.Users = field(default_factory=dict)


@dataclass
class NetworkPath:
    """Subnets, routes, gateways and ACLs: read only where something could be reached."""

    subnets: list[Subnet] = field(default_factory=list)
    route_tables: list[RouteTable] = field(default_factory=list)
    internet_gateways: dict[str, list[str]] = field(default_factory=dict)
    egress_only_gateways: list[str] = field(default_factory=list)
    network_acls: list[NetworkAcl] = field(default_factory=list)

    @classmethod
    def read(cls, ec2: Any, pool: Executor | None = None) -> NetworkPath:
        """The five reads, at once on `pool` (else one after another, in this order)."""
        reads: list[Callable[[Any], Any]] = [
            network.subnets,
            network.route_tables,
            network.internet_gateways,
            network.egress_only_gateways,
            network.network_acls,
        ]
        if pool is None:
            found = [read(ec2) for read in reads]
        else:
            found = [f.result() for f in [pool.submit(read, ec2) for read in reads]]
        return cls(*found)


def _balancers(client_for: ClientFor, out: Surroundings, used: users.Users) -> None:
    out.load_balancers = balancers.elbv2(client_for("elbv2")) + balancers.classic(client_for("elb"))
    for lb in out.load_balancers:
        users.add(used, lb.group_ids, f"load balancer {lb.id}")


class PendingSurroundings:
    """The reads of `Surroundings` under way: one per service, each with its own client,
    so each client's calls keep their order whatever the threads do."""

    def __init__(self, client_for: ClientFor, pool: Executor | None) -> None:
        self.out = Surroundings()
        self._parts: list[users.Users] = [{} for _ in range(6)]
        parts, out = self._parts, self.out
        reads: list[Callable[[], None]] = [
            lambda: users.launch_templates(client_for("ec2"), parts[0]),
            lambda: users.autoscaling(client_for("autoscaling"), parts[1]),
            lambda: users.rds(client_for("rds"), parts[2]),
            lambda: users.lambdas(client_for("lambda"), parts[3]),
            lambda: _balancers(client_for, out, parts[4]),
            lambda: users.ecs(client_for("ecs"), parts[5]),
        ]
        self._futures: list[Future[None]] = []
        if pool is None:
            for read in reads:
                read()
        else:
            self._futures = [pool.submit(read) for read in reads]

    def result(self) -> Surroundings:
        """Wait for every read; raises the first failure (the topology is then unread)."""
        for future in self._futures:
            future.result()
        for part in self._parts:
            for group_id, names in part.items():
                self.out.users.setdefault(group_id, set()).update(names)
        return self.out


def assemble(
    found: Surroundings,
    ec2: Any,
    account_id: str,
    region: str,
    observed_at: datetime,
    raw_groups: list[dict[str, Any]],
    raw_interfaces: list[dict[str, Any]],
    pool: Executor | None = None,
) -> Topology:
    """The topology from the surroundings and the region read's groups and interfaces
    (the network path read on `pool` when it is needed)."""
    used: users.Users = {g: set(names) for g, names in found.users.items()}
    for group_id, names in network.group_references(raw_groups).items():
        used.setdefault(group_id, set()).update(names)
    interfaces = network.interfaces(raw_interfaces)
    facing = [lb for lb in found.load_balancers if lb.scheme == "internet-facing"]
    path = NetworkPath.read(ec2, pool) if reachable_at_all(interfaces, facing) else NetworkPath()
    return Topology(
        account_id=account_id,
        region=region,
        observed_at=observed_at,
        subnets=path.subnets,
        route_tables=path.route_tables,
        internet_gateways=path.internet_gateways,
        egress_only_gateways=path.egress_only_gateways,
        network_acls=path.network_acls,
        interfaces=interfaces,
        load_balancers=facing,
        prefix_lists=network.prefix_lists(ec2, network.referenced_prefix_lists(raw_groups)),
        group_users={g: sorted(names) for g, names in sorted(used.items())},
    )


def read_topology(
    client_for: ClientFor,
    account_id: str,
    region: str,
    observed_at: datetime,
    raw_groups: list[dict[str, Any]],
    raw_interfaces: list[dict[str, Any]],
) -> Topology:
    """The account-region's topology, read in this thread; raises (`IncompleteRead`,
    botocore errors) unless every call was read in full."""
    found = PendingSurroundings(client_for, None).result()
    return assemble(
        found, client_for("ec2"), account_id, region, observed_at, raw_groups, raw_interfaces
    )
