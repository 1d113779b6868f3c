"""A window with a route, ACL or address call: the whole region is read again, topology
included, and every group is published (`source: event`), so each group whose exposure
changed is re-audited even though no security-group call named it."""

from __future__ import annotations

from secmonkey.collector.cloudtrail.describe import Described
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.topology.region import read_region_with_topology
from secmonkey.common.documents import Account


def describe_region(
    clients: AwsClients, account: Account, region: str, named: list[str]
) -> Described:
    """Every group of the region with its topology; `named` IDs not found are missing."""
    read = read_region_with_topology(clients, account, region)
    described = Described(observed_at=read.observed_at, vpcs=read.vpcs)
    described.groups = {g.config.group_id: g for g in read.groups}
    described.missing = [g for g in named if g not in described.groups]
    described.topology = read.topology
    return described
