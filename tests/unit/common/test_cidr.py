"""CIDR helpers: a wrong answer here means a wrong search result or a missed exposure."""

from __future__ import annotations

import pytest

from secmonkey.common.cidr import IPRange, Scope, classify, parse_address, parse_network
from secmonkey.common.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.0/33", "exceeds /32"),
        ("::/129", "exceeds /128"),
        ("300.1.1.1/32", "invalid IP address '300.1.1.1'"),
        ("10.0.0.0/abc", "not a number"),
        ("", "required"),
        ("not-an-ip", "invalid"),
        ("10.0.0.0/-1", "not a number"),
    ],
)
def test_bad_cidrs_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        parse_network(text)


def test_host_bits_refused_only_when_strict() -> None:
    assert str(parse_network("10.1.2.3/8")) == "10.0.0.0/8"
    with pytest.raises(InvalidInput, match="host bits"):
        parse_network("10.1.2.3/8", strict=True)


def test_bad_addresses_are_refused() -> None:
    for bad in ("300.1.1.1", "1.2.3", "::g", ""):
        with pytest.raises(InvalidInput):
            parse_address(bad)
    assert str(parse_address(" 2001:db8::1 ")) == "2001:db8::1"


def test_bare_address_is_a_host_range() -> None:
    r = IPRange.of("192.0.2.7")
    assert r.first == r.last and r.size == 1


def test_match_modes_ipv4() -> None:
    rule = IPRange.of("10.0.0.0/8")
    assert rule.matches(IPRange.of("10.1.0.0/16"), "contains")
    assert not rule.matches(IPRange.of("10.1.0.0/16"), "within")
    assert rule.matches(IPRange.of("0.0.0.0/0"), "within")
    assert rule.matches(IPRange.of("10.255.255.255/32"), "overlaps")
    assert not rule.matches(IPRange.of("11.0.0.0/8"), "overlaps")
    assert rule.matches(IPRange.of("10.0.0.0/8"), "exact")
    assert not rule.matches(IPRange.of("10.0.0.0/9"), "exact")


def test_match_modes_ipv6_and_versions_never_mix() -> None:
    rule = IPRange.of("2001:db8::/32")
    assert rule.matches(IPRange.of("2001:db8:1::/48"), "contains")
    assert IPRange.of("::/0").matches(IPRange.of("2001:db8::1"), "contains")
    assert not IPRange.of("0.0.0.0/0").matches(IPRange.of("2001:db8::1"), "contains")
    assert not IPRange.of("::/0").overlaps(IPRange.of("0.0.0.0/0"))


def test_storage_form_orders_like_numbers() -> None:
    small, big = IPRange.of("9.0.0.0/8"), IPRange.of("10.0.0.0/8")
    assert str(small.to_doc()["lo"]) < str(big.to_doc()["lo"])
    v6 = IPRange.of("ffff::/16")
    assert len(str(v6.to_doc()["hi"])) == 32
    assert IPRange.from_doc(v6.to_doc()) == v6


@pytest.mark.parametrize(
    ("cidr", "scope"),
    [
        ("0.0.0.0/0", Scope.INTERNET),
        ("::/0", Scope.INTERNET),
        ("10.1.0.0/16", Scope.PRIVATE),
        ("172.16.5.0/24", Scope.PRIVATE),
        ("192.168.1.1/32", Scope.PRIVATE),
        ("fd00::/8", Scope.PRIVATE),
        ("100.64.1.0/24", Scope.CGNAT),
        ("127.0.0.1/32", Scope.LOOPBACK),
        ("::1/128", Scope.LOOPBACK),
        ("169.254.169.254/32", Scope.LINK_LOCAL),
        ("fe80::/64", Scope.LINK_LOCAL),
        ("8.8.8.0/24", Scope.PUBLIC),
        ("2600:1f18::/32", Scope.PUBLIC),
        ("0.0.0.0/1", Scope.PUBLIC),
        ("192.0.2.0/24", Scope.RESERVED),
    ],
)
def test_classification(cidr: str, scope: Scope) -> None:
    assert classify(cidr) is scope
