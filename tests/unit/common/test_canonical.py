"""The fingerprint is what decides "changed or not": a wrong one means missed or phantom alerts."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from secmonkey.common.canonical import GroupSnapshot, canonical_from_aws
from secmonkey.common.errors import InvalidInput


def aws_group() -> dict[str, Any]:
    return {
        "GroupId": "sg-0123456789abcdef0",
        "GroupName": "web",
        "Description": "web tier",
        "VpcId": "vpc-1",
        "OwnerId": "111111111111",
        "Tags": [{"Key": "Owner", "Value": "alice"}, {"Key": "Env", "Value": "prod"}],
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [
                    {"CidrIp": "0.0.0.0/0", "Description": "ssh"},
                    {"CidrIp": "10.0.0.0/8"},
                ],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
                "PrefixListIds": [{"PrefixListId": "pl-12345678"}],
                "UserIdGroupPairs": [{"GroupId": "sg-0aaa", "UserId": "222222222222"}],
            },
        ],
        "IpPermissionsEgress": [
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": []}
        ],
    }


def shuffled(entry: dict[str, Any], seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    out = copy.deepcopy(entry)
    rng.shuffle(out["Tags"])
    rng.shuffle(out["IpPermissions"])
    for perm in out["IpPermissions"]:
        for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
            rng.shuffle(perm.get(key, []))
    return out


def test_flattens_one_rule_per_source_of_every_kind() -> None:
    group = canonical_from_aws(aws_group())
    kinds = sorted({r.source_kind for r in group.rules})
    assert kinds == ["cidr4", "cidr6", "group", "prefix_list"]
    assert len(group.rules) == 7
    ref = next(r for r in group.rules if r.source_kind == "group")
    assert (ref.source, ref.source_account) == ("sg-0aaa", "222222222222")
    assert ref.text() == "ingress tcp/443 from sg-0aaa (acct 222222222222)"
    egress = next(r for r in group.rules if r.direction == "egress")
    assert egress.text() == "egress all to 0.0.0.0/0"
    assert egress.from_port is None and egress.all_traffic


@pytest.mark.parametrize("seed", range(5))
def test_order_does_not_change_the_fingerprint(seed: int) -> None:
    a = canonical_from_aws(aws_group())
    b = canonical_from_aws(shuffled(aws_group(), seed))
    assert a.fingerprint() == b.fingerprint()
    assert a == b


def _mutations() -> list[tuple[str, Any]]:
    def port(e: dict[str, Any]) -> None:
        e["IpPermissions"][0]["ToPort"] = 23

    def cidr(e: dict[str, Any]) -> None:
        e["IpPermissions"][0]["IpRanges"][1]["CidrIp"] = "10.0.0.0/9"

    def ipv6(e: dict[str, Any]) -> None:
        e["IpPermissions"][1]["Ipv6Ranges"][0]["CidrIpv6"] = "2001:db8::/33"

    def description(e: dict[str, Any]) -> None:
        e["IpPermissions"][0]["IpRanges"][0]["Description"] = "ssh from anywhere"

    def tag(e: dict[str, Any]) -> None:
        e["Tags"][0]["Value"] = "bob"

    def referenced_group(e: dict[str, Any]) -> None:
        e["IpPermissions"][1]["UserIdGroupPairs"][0]["UserId"] = "333333333333"

    def prefix_list(e: dict[str, Any]) -> None:
        e["IpPermissions"][1]["PrefixListIds"][0]["PrefixListId"] = "pl-87654321"

    def protocol(e: dict[str, Any]) -> None:
        e["IpPermissions"][0]["IpProtocol"] = "udp"

    def removed_egress(e: dict[str, Any]) -> None:
        e["IpPermissionsEgress"] = []

    return [
        (f.__name__, f)
        for f in (
            port,
            cidr,
            ipv6,
            description,
            tag,
            referenced_group,
            prefix_list,
            protocol,
            removed_egress,
        )
    ]


@pytest.mark.parametrize(("name", "mutate"), _mutations())
def test_every_real_change_changes_the_fingerprint(name: str, mutate: Any) -> None:
    before = canonical_from_aws(aws_group()).fingerprint()
    entry = aws_group()
    mutate(entry)
    assert canonical_from_aws(entry).fingerprint() != before, name


def test_numeric_protocols_are_named() -> None:
    entry = aws_group()
    entry["IpPermissions"][0]["IpProtocol"] = "6"
    assert canonical_from_aws(entry).fingerprint() == canonical_from_aws(aws_group()).fingerprint()


def test_attachments_are_not_part_of_the_fingerprint() -> None:
    from secmonkey.common.canonical import Attachments

    config = canonical_from_aws(aws_group())
    a = GroupSnapshot.of(config, Attachments(interface_count=0))
    b = GroupSnapshot.of(
        config, Attachments(interface_count=3, public_ip=True, instance_ids=["i-1"])
    )
    assert a.fingerprint == b.fingerprint
    assert (a.attachments.exposure(), b.attachments.exposure()) == ("unattached", "public")


def test_a_malformed_entry_is_refused_clearly() -> None:
    entry = aws_group()
    del entry["OwnerId"]
    with pytest.raises(InvalidInput, match="OwnerId"):
        canonical_from_aws(entry)
    entry = aws_group()
    entry["IpPermissions"][0]["IpRanges"][0]["CidrIp"] = "10.0.0.0/33"
    with pytest.raises(InvalidInput, match="exceeds /32"):
        canonical_from_aws(entry)
