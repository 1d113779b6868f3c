"""The targeted read behind a window of events: only the groups the events named.

One `DescribeSecurityGroups(GroupIds=[...])` per account and region. If any of those
groups is gone AWS fails the whole call with `InvalidGroup.NotFound`, so the same IDs are
asked again as a `group-id` filter, which lists the ones that still exist; the rest are
reported missing (the auditor records their deletion). Groups named only by `groupName`
(default-VPC calls) are found with a `group-name` filter. Attachments and VPCs are read
for the groups found, so an event snapshot carries the same exposure a sweep would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from secmonkey.collector.reader import attachments_by_group, pages, vpc_summary
from secmonkey.common.canonical import GroupSnapshot, canonical_from_aws
from secmonkey.common.messages import VpcSummary
from secmonkey.common.topology import Topology

NOT_FOUND_CODES = frozenset({"InvalidGroup.NotFound", "InvalidGroupId.NotFound"})
MAX_IDS = 200  # EC2 takes at most 200 values per filter


@dataclass
class Described:
    """What the targeted read found, observed starting at `observed_at`."""

    observed_at: datetime
    groups: dict[str, GroupSnapshot] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)
    vpcs: dict[str, VpcSummary] = field(default_factory=dict)
    topology: Topology | None = None  # when a route, ACL or address call made it re-read


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _by_ids(ec2: Any, group_ids: list[str]) -> list[dict[str, Any]]:
    try:
        return list(ec2.describe_security_groups(GroupIds=group_ids).get("SecurityGroups", []))
    except ClientError as exc:
        if _error_code(exc) not in NOT_FOUND_CODES:
            raise
    # At least one is gone: the filter form lists the others without failing.
    return list(
        pages(
            ec2.describe_security_groups,
            "SecurityGroups",
            Filters=[{"Name": "group-id", "Values": group_ids}],
        )
    )


def _by_names(ec2: Any, names: list[str]) -> list[dict[str, Any]]:
    return list(
        pages(
            ec2.describe_security_groups,
            "SecurityGroups",
            Filters=[{"Name": "group-name", "Values": names}],
        )
    )


def _prefer_default_vpc(
    entries: Iterable[dict[str, Any]], vpcs: dict[str, VpcSummary]
) -> list[dict[str, Any]]:
    """A `groupName` call acts in the default VPC: when a name matches several groups,
    keep the default VPC's."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_name.setdefault(entry.get("GroupName", ""), []).append(entry)
    chosen: list[dict[str, Any]] = []
    for same_name in by_name.values():
        in_default = [e for e in same_name if (vpcs.get(e.get("VpcId", "")) or _NO_VPC).is_default]
        chosen.extend(in_default or same_name)
    return chosen


_NO_VPC = VpcSummary(vpc_id="", is_default=False)


def describe_groups(
    ec2: Any,
    group_ids: list[str],
    group_names: list[str],
    known_vpcs: dict[str, VpcSummary] | None = None,
) -> Described:
    """Read `group_ids` and the groups called `group_names` in the region `ec2` is bound to
    (the VPCs in `known_vpcs`, read lately, are not read again)."""
    described = Described(observed_at=datetime.now(UTC))
    entries: list[dict[str, Any]] = []
    for start in range(0, len(group_ids), MAX_IDS):
        entries += _by_ids(ec2, group_ids[start : start + MAX_IDS])
    named: list[dict[str, Any]] = []
    if group_names:
        named = _by_names(ec2, group_names)
    vpc_ids = sorted({e["VpcId"] for e in entries + named if e.get("VpcId")})
    known = known_vpcs or {}
    described.vpcs = {v: known[v] for v in vpc_ids if v in known}
    unread = [v for v in vpc_ids if v not in known]
    if unread:
        vpcs = pages(ec2.describe_vpcs, "Vpcs", Filters=[{"Name": "vpc-id", "Values": unread}])
        described.vpcs |= {v["VpcId"]: vpc_summary(v) for v in vpcs}
    for entry in _prefer_default_vpc(named, described.vpcs):
        described.names.setdefault(entry.get("GroupName", ""), []).append(entry["GroupId"])
        entries.append(entry)
    found_ids = sorted({e["GroupId"] for e in entries})
    attachments = {}
    interfaces: list[dict[str, Any]] = []
    for start in range(0, len(found_ids), MAX_IDS):
        interfaces += pages(
            ec2.describe_network_interfaces,
            "NetworkInterfaces",
            Filters=[{"Name": "group-id", "Values": found_ids[start : start + MAX_IDS]}],
        )
    if interfaces:
        # An interface using groups of two chunks is listed twice: count it once.
        unique = {eni.get("NetworkInterfaceId") or id(eni): eni for eni in interfaces}
        attachments = attachments_by_group(list(unique.values()))
    for entry in entries:
        config = canonical_from_aws(entry)
        described.groups[config.group_id] = GroupSnapshot.of(
            config, attachments.get(config.group_id)
        )
    described.missing = [g for g in group_ids if g not in described.groups]
    return described
