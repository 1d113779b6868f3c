"""Reading one account-region: every security group, its attachments and its VPC.

Three Describe calls, each followed through every `NextToken` page. Anything short of
reading every page of every call raises: a partial list must never be taken for the
whole region (the auditor deletes the groups a complete sweep did not see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from secmonkey.common.canonical import Attachments, GroupSnapshot, canonical_from_aws
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import VpcSummary
from secmonkey.common.topology import Topology

# Exactly the EC2 calls the collector makes; deploy/iam/ grants these and nothing else.
OPERATIONS = (
    "DescribeSecurityGroups",
    "DescribeNetworkInterfaces",
    "DescribeVpcs",
    "DescribeRegions",
    "DescribeFlowLogs",  # flowlogs.inventory: which interfaces have flow logs
)
PAGE_SIZE = 1000
MAX_PAGES = 10_000


class IncompleteRead(Exception):
    """The region could not be read in full (a broken page chain, an unreadable group)."""


@dataclass
class RegionRead:
    """What one region holds, observed starting at `observed_at`."""

    observed_at: datetime
    groups: list[GroupSnapshot] = field(default_factory=list)
    vpcs: dict[str, VpcSummary] = field(default_factory=dict)
    # Kept for the topology read (secmonkey.collector.topology), which reuses them.
    raw_groups: list[dict[str, Any]] = field(default_factory=list, repr=False)
    raw_interfaces: list[dict[str, Any]] = field(default_factory=list, repr=False)
    topology: Topology | None = None


def pages(
    call: Callable[..., dict[str, Any]],
    key: str,
    *,
    page_size: int | None = PAGE_SIZE,
    **params: Any,
) -> Iterator[Any]:
    """Every item of `key` across the NextToken chain; refuses a chain that loops.

    `page_size=None` sends no MaxResults (AWS refuses it alongside explicit `GroupIds`).
    """
    seen: set[str] = set()
    token: str | None = None
    for _ in range(MAX_PAGES):
        request = dict(params)
        if page_size is not None:
            request["MaxResults"] = page_size
        if token:
            request["NextToken"] = token
        answer = call(**request)
        yield from answer.get(key, [])
        token = answer.get("NextToken") or None
        if token is None:
            return
        if token in seen:
            raise IncompleteRead(f"{key}: NextToken {token[:16]}... came back twice")
        seen.add(token)
    raise IncompleteRead(f"{key}: more than {MAX_PAGES} pages")


def attachments_by_group(interfaces: list[dict[str, Any]]) -> dict[str, Attachments]:
    """Which interfaces (types, instances, public IPs) use each group."""
    counts: dict[str, int] = {}
    types: dict[str, set[str]] = {}
    instances: dict[str, set[str]] = {}
    public: dict[str, bool] = {}
    for eni in interfaces:
        eni_type = eni.get("InterfaceType") or "interface"
        instance = (eni.get("Attachment") or {}).get("InstanceId")
        has_public = bool((eni.get("Association") or {}).get("PublicIp"))
        for group in eni.get("Groups", []):
            group_id = group.get("GroupId")
            if not group_id:
                continue
            counts[group_id] = counts.get(group_id, 0) + 1
            types.setdefault(group_id, set()).add(eni_type)
            if instance:
                instances.setdefault(group_id, set()).add(instance)
            public[group_id] = public.get(group_id, False) or has_public
    return {
        group_id: Attachments(
            interface_count=count,
            interface_types=sorted(types.get(group_id, ())),
            instance_ids=sorted(instances.get(group_id, ())),
            public_ip=public.get(group_id, False),
        )
        for group_id, count in counts.items()
    }


def vpc_summary(vpc: dict[str, Any]) -> VpcSummary:
    cidrs = [
        a["CidrBlock"]
        for a in vpc.get("CidrBlockAssociationSet", [])
        if (a.get("CidrBlockState") or {}).get("State", "associated") == "associated"
    ]
    cidrs += [
        a["Ipv6CidrBlock"]
        for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
        if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
    ]
    if not cidrs and vpc.get("CidrBlock"):
        cidrs = [vpc["CidrBlock"]]
    return VpcSummary(vpc_id=vpc["VpcId"], is_default=bool(vpc.get("IsDefault")), cidrs=cidrs)


def read_region(ec2: Any) -> RegionRead:
    """Read every group of the region `ec2` is bound to; raises unless every page was read."""
    read = RegionRead(observed_at=datetime.now(UTC))
    raw_groups = list(pages(ec2.describe_security_groups, "SecurityGroups"))
    interfaces = list(pages(ec2.describe_network_interfaces, "NetworkInterfaces"))
    vpcs = list(pages(ec2.describe_vpcs, "Vpcs"))
    attachments = attachments_by_group(interfaces)
    read.vpcs = {v["VpcId"]: vpc_summary(v) for v in vpcs}
    read.raw_groups, read.raw_interfaces = raw_groups, interfaces
    seen: set[str] = set()
    for entry in raw_groups:
        try:
            config = canonical_from_aws(entry)
        except (InvalidInput, ValueError) as exc:
            raise IncompleteRead(f"group {entry.get('GroupId', '?')} is unreadable: {exc}") from exc
        if config.group_id in seen:
            # A group listed twice (a page boundary moving under a concurrent change).
            continue
        seen.add(config.group_id)
        read.groups.append(GroupSnapshot.of(config, attachments.get(config.group_id)))
    return read


def enabled_regions(ec2: Any) -> list[str]:
    """The regions enabled for the account (opt-in regions only once opted in)."""
    answer = ec2.describe_regions(AllRegions=False)
    return sorted(
        r["RegionName"]
        for r in answer.get("Regions", [])
        if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")
    )
