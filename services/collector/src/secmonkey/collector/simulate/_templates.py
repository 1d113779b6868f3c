"""Security group shapes seen in real estates, good and bad, for the simulated estate."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Permission = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """What a template may refer to in its region."""

    account_id: str
    peer_account: str
    unknown_account: str
    prefix_list: str
    same_vpc_group: str | None
    rng: random.Random


def tcp(port: int, to: int | None = None, **sources: Any) -> Permission:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port if to is None else to, **sources}


def cidrs(*values: str, description: str = "") -> list[dict[str, str]]:
    return [{"CidrIp": v, **({"Description": description} if description else {})} for v in values]


def cidrs6(*values: str) -> list[dict[str, str]]:
    return [{"CidrIpv6": v} for v in values]


def _web(c: Context) -> list[Permission]:
    return [
        tcp(80, IpRanges=cidrs("0.0.0.0/0"), Ipv6Ranges=cidrs6("::/0")),
        tcp(443, IpRanges=cidrs("0.0.0.0/0", description="HTTPS"), Ipv6Ranges=cidrs6("::/0")),
    ]


def _ssh_open(c: Context) -> list[Permission]:
    return [tcp(22, IpRanges=cidrs("0.0.0.0/0", description="temporary debug access"))]


def _rdp_open(c: Context) -> list[Permission]:
    return [tcp(3389, IpRanges=cidrs("0.0.0.0/0"))]


def _database(c: Context) -> list[Permission]:
    perms = [tcp(3306, IpRanges=cidrs("10.0.0.0/16", description="app subnets"))]
    if c.same_vpc_group:
        perms.append(tcp(5432, UserIdGroupPairs=[{"GroupId": c.same_vpc_group}]))
    return perms


def _partner(c: Context) -> list[Permission]:
    # moto only accepts group IDs that exist in the account itself, so the pair names a
    # local group with the partner's account as UserId: the shape of a peered reference.
    if not c.same_vpc_group:
        return [tcp(443, IpRanges=cidrs("198.51.100.0/24", description="partner NAT"))]
    pair = {"GroupId": c.same_vpc_group, "UserId": c.peer_account, "Description": "peered"}
    return [tcp(443, UserIdGroupPairs=[pair])]


def _vendor(c: Context) -> list[Permission]:
    if not c.same_vpc_group:
        return [tcp(8443, IpRanges=cidrs("203.0.113.0/24"))]
    pair = {"GroupId": c.same_vpc_group, "UserId": c.unknown_account}
    return [tcp(8443, UserIdGroupPairs=[pair])]


def _corp(c: Context) -> list[Permission]:
    return [
        tcp(22, PrefixListIds=[{"PrefixListId": c.prefix_list, "Description": "offices"}]),
        tcp(443, PrefixListIds=[{"PrefixListId": c.prefix_list}]),
    ]


def _ephemeral(c: Context) -> list[Permission]:
    return [tcp(1024, 65535, IpRanges=cidrs("10.0.0.0/8"))]


def _internal_all(c: Context) -> list[Permission]:
    return [{"IpProtocol": "-1", "IpRanges": cidrs("172.16.0.0/12")}]


def _public_api(c: Context) -> list[Permission]:
    return [
        tcp(8443, IpRanges=cidrs("203.0.113.0/24", "198.51.100.0/22")),
        {"IpProtocol": "udp", "FromPort": 500, "ToPort": 500, "IpRanges": cidrs("192.0.2.10/32")},
    ]


def _broad(c: Context) -> list[Permission]:
    return [tcp(9200, IpRanges=cidrs("52.0.0.0/8")), tcp(6379, IpRanges=cidrs("100.64.0.0/10"))]


def _ipv6(c: Context) -> list[Permission]:
    return [
        tcp(443, Ipv6Ranges=cidrs6("2001:db8::/32")),
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": cidrs6("::/0")},
    ]


def _icmp(c: Context) -> list[Permission]:
    return [{"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": cidrs("0.0.0.0/0")}]


def _mongo_open(c: Context) -> list[Permission]:
    return [tcp(27017, 27018, IpRanges=cidrs("0.0.0.0/0"))]


def _everything_open(c: Context) -> list[Permission]:
    return [{"IpProtocol": "-1", "IpRanges": cidrs("0.0.0.0/0")}]


def _app(c: Context) -> list[Permission]:
    port = c.rng.choice([8080, 8000, 9000, 3000])
    return [tcp(port, IpRanges=cidrs(f"10.{c.rng.randrange(256)}.0.0/16"))]


# (name, how many in 100 groups, ingress rules)
TEMPLATES: list[tuple[str, int, Callable[[Context], list[Permission]]]] = [
    ("app", 22, _app),
    ("web", 12, _web),
    ("db", 10, _database),
    ("corp", 8, _corp),
    ("ephemeral", 6, _ephemeral),
    ("internal", 6, _internal_all),
    ("public-api", 6, _public_api),
    ("ipv6", 6, _ipv6),
    ("partner", 5, _partner),
    ("bastion", 5, _ssh_open),
    ("search", 4, _broad),
    ("jump", 3, _rdp_open),
    ("vendor", 3, _vendor),
    ("ping", 2, _icmp),
    ("nosql", 1, _mongo_open),
    ("wide-open", 1, _everything_open),
]
_WEIGHTS = [w for _, w, _ in TEMPLATES]
_BY_NAME = {name: build for name, _, build in TEMPLATES}
# The first groups of every region take each shape once, in an order where every group
# reference finds an earlier group of its VPC; the rest are drawn by weight.
FIRST = (
    "app", "web", "app", "db", "partner", "vendor", "corp", "bastion", "ipv6", "ephemeral",
    "internal", "public-api", "search", "jump", "ping", "nosql", "wide-open",
)  # fmt: skip


def pick(rng: random.Random, n: int) -> tuple[str, Callable[[Context], list[Permission]]]:
    """The shape of the region's `n`-th group."""
    if n < len(FIRST):
        return FIRST[n], _BY_NAME[FIRST[n]]
    name, _, build = rng.choices(TEMPLATES, weights=_WEIGHTS)[0]
    return name, build


def tags(rng: random.Random, name: str) -> list[dict[str, str]]:
    return [
        {"Key": "Name", "Value": name},
        {"Key": "env", "Value": rng.choice(["prod", "staging", "dev"])},
        {"Key": "team", "Value": rng.choice(["payments", "search", "platform", "data"])},
        {"Key": "secmonkey-simulated", "Value": "true"},
    ]
