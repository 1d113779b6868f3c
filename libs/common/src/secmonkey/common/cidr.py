"""Strict IPv4/IPv6 parsing, numeric ranges for storage and search, and classification.

Ranges are stored as fixed-width hex strings (32 digits) with the IP version, because
MongoDB has no 128-bit integer: comparing equal-width hex strings orders them like
the numbers they spell, so `$lte`/`$gte` range queries work on both MongoDB and FerretDB.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from secmonkey.common.errors import InvalidInput

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MatchMode = Literal["exact", "contains", "within", "overlaps"]
MATCH_MODES: tuple[MatchMode, ...] = ("exact", "contains", "within", "overlaps")
HEX_WIDTH = 32


class Scope(StrEnum):
    """Where a range sits: the classification audit rules and search work with."""

    INTERNET = "internet"  # 0.0.0.0/0 or ::/0
    PRIVATE = "private"  # RFC 1918, IPv6 ULA
    CGNAT = "cgnat"  # 100.64.0.0/10
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    PUBLIC = "public"  # globally routable, narrower than the whole internet
    RESERVED = "reserved"  # documentation, multicast, unspecified and other special ranges


_PRIVATE = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
]
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_LOOPBACK = [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "::1/128")]
_LINK_LOCAL = [ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10")]


def parse_network(text: str, *, strict: bool = False) -> IPNetwork:
    """Parse an IPv4/IPv6 CIDR (or a bare address as /32, /128).

    `strict` refuses host bits set (`10.0.0.1/8`); otherwise they are masked off.
    Raises `InvalidInput` with a message naming what is wrong.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a CIDR is required, got an empty value")
    return _parse_network(text, strict)


# The auditor parses each rule's source several times per group (postings, ranges, rules),
# and an estate repeats the same few thousand CIDRs: 2.6 % of its CPU at first sight.
@functools.lru_cache(maxsize=65_536)
def _parse_network(text: str, strict: bool) -> IPNetwork:
    value = text.strip()
    if "/" in value:
        address, _, prefix = value.partition("/")
        if not (prefix.isascii() and prefix.isdigit()):  # `²` is a digit to str.isdigit
            raise InvalidInput(f"invalid CIDR {value!r}: prefix length {prefix!r} is not a number")
        parsed = _parse_address(address, value)
        if int(prefix) > parsed.max_prefixlen:
            raise InvalidInput(
                f"invalid CIDR {value!r}: prefix /{prefix} exceeds /{parsed.max_prefixlen} "
                f"for IPv{parsed.version}"
            )
    try:
        return ipaddress.ip_network(value, strict=strict)
    except ValueError as exc:
        if "host bits set" in str(exc):
            raise InvalidInput(f"invalid CIDR {value!r}: host bits are set") from None
        raise InvalidInput(f"invalid CIDR {value!r}: {exc}") from None


def parse_address(text: str) -> IPAddress:
    """Parse one IPv4/IPv6 address; raises `InvalidInput` for `300.1.1.1` and the like."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("an IP address is required, got an empty value")
    return _parse_address(text.strip(), text.strip())


def _parse_address(address: str, whole: str) -> IPAddress:
    try:
        return ipaddress.ip_address(address)
    except ValueError:
        raise InvalidInput(f"invalid IP address {address!r} in {whole!r}") from None


def to_hex(value: int) -> str:
    return format(value, f"0{HEX_WIDTH}x")


@dataclass(frozen=True, slots=True)
class IPRange:
    """An inclusive numeric range of one IP version: what `items.ranges` stores."""

    version: int
    first: int
    last: int

    @classmethod
    def of(cls, value: str | IPNetwork | IPAddress) -> IPRange:
        if isinstance(value, str):
            value = parse_network(value)
        if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return cls(value.version, int(value), int(value))
        return cls(value.version, int(value.network_address), int(value.broadcast_address))

    def contains(self, other: IPRange) -> bool:
        """Every address of `other` is in this range."""
        return (
            self.version == other.version and self.first <= other.first and other.last <= self.last
        )

    def within(self, other: IPRange) -> bool:
        return other.contains(self)

    def overlaps(self, other: IPRange) -> bool:
        return (
            self.version == other.version and self.first <= other.last and other.first <= self.last
        )

    def exact(self, other: IPRange) -> bool:
        return self == other

    def matches(self, other: IPRange, mode: MatchMode) -> bool:
        """Does this (stored rule) range match the query range `other` in `mode`?"""
        return {
            "exact": self.exact,
            "contains": self.contains,
            "within": self.within,
            "overlaps": self.overlaps,
        }[mode](other)

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def to_doc(self) -> dict[str, object]:
        return {"v": self.version, "lo": to_hex(self.first), "hi": to_hex(self.last)}

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> IPRange:
        return cls(int(str(doc["v"])), int(str(doc["lo"]), 16), int(str(doc["hi"]), 16))


def is_internet(network: IPNetwork) -> bool:
    return network.prefixlen == 0


def classify(value: str | IPNetwork) -> Scope:
    """Classify a range. A range straddling several classes takes the widest-risk one."""
    network = parse_network(value) if isinstance(value, str) else value
    if is_internet(network):
        return Scope.INTERNET
    for scope, nets in (
        (Scope.LOOPBACK, _LOOPBACK),
        (Scope.LINK_LOCAL, _LINK_LOCAL),
        (Scope.PRIVATE, _PRIVATE),
        (Scope.CGNAT, [_CGNAT]),
    ):
        if any(network.version == n.version and network.subnet_of(n) for n in nets):  # type: ignore[arg-type]
            return scope
    if network.is_global or _overlaps_global(network):
        return Scope.PUBLIC
    return Scope.RESERVED


def _overlaps_global(network: IPNetwork) -> bool:
    # A wide range such as 0.0.0.0/1 is not "global" as a whole but contains public space.
    return network.prefixlen < (8 if network.version == 4 else 16)


def is_public(value: str | IPNetwork) -> bool:
    """Globally routable and narrower than the whole internet."""
    return classify(value) is Scope.PUBLIC


def broader_than(network: IPNetwork, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> bool:
    return network.prefixlen < (ipv4_prefix if network.version == 4 else ipv6_prefix)
