"""The candidate filter must never miss a matching rule: if it did, a search would silently
hide a rule that lets an address in."""

from __future__ import annotations

import ipaddress
import random
from typing import Literal

import pytest

from secmonkey.common.cidr import IPRange, parse_network, to_hex
from secmonkey.common.search_index.format import range_id
from secmonkey.common.search_index.reader import (
    candidate_filter,
    candidate_ranges,
    containing_starts,
)
from secmonkey.common.storage import Capabilities


def _hex(text: str) -> str:
    return to_hex(int(ipaddress.ip_address(text)))


def test_containing_starts_of_an_address_are_its_maskings() -> None:
    starts = containing_starts(parse_network("10.1.2.3"))
    assert len(starts) <= 33  # one per prefix length /0 .. /32, equal maskings merged
    assert _hex("0.0.0.0") in starts  # 0.0.0.0/0 contains everything
    assert _hex("10.0.0.0") in starts  # 10.0.0.0/8
    assert _hex("10.1.2.0") in starts  # 10.1.2.0/24
    assert _hex("10.1.2.3") in starts  # /32
    assert _hex("10.1.2.4") not in starts


def test_containing_starts_of_a_network_stop_at_its_prefix() -> None:
    starts = containing_starts(parse_network("10.1.0.0/16"))
    assert _hex("10.1.0.0") in starts
    assert max(starts) == _hex("10.1.0.0")
    assert len(set(starts)) == len(starts)


def test_ipv6_has_129_candidate_prefixes_at_most() -> None:
    starts = containing_starts(parse_network("2001:db8::1"))
    assert to_hex(0) in starts  # ::/0
    assert len(starts) <= 129


def _matches_filter(
    doc_los: list[str], query: dict[str, object], capabilities: Capabilities
) -> bool:
    """Evaluate our candidate filter the way either server would (one element satisfies all)."""
    if "$or" in query:
        return any(_matches_filter(doc_los, q, capabilities) for q in query["$or"])  # type: ignore[attr-defined]
    if "ranges" in query:  # MongoDB's {"ranges": {"$elemMatch": {"lo": {...}}}}
        bounds = query["ranges"]["$elemMatch"]["lo"]  # type: ignore[index]
        return any(bounds["$gte"] <= lo <= bounds["$lte"] for lo in doc_los)
    condition = query["ranges.lo"]
    if isinstance(condition, str):
        return condition in doc_los
    assert isinstance(condition, dict)
    if "$in" in condition:
        return any(lo in condition["$in"] for lo in doc_los)
    return any(condition["$gte"] <= lo <= condition["$lte"] for lo in doc_los)


def _random_rules() -> list[str]:
    rng = random.Random(7)
    rules = ["0.0.0.0/0", "::/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "192.168.1.7/32"]
    rules += ["2001:db8::/32", "2001:db8:1::/48", "fd00::/8"]
    for _ in range(300):
        bits = rng.randrange(0, 33)
        rules.append(str(ipaddress.ip_network((rng.getrandbits(32), bits), strict=False)))
        bits6 = rng.randrange(0, 129)
        rules.append(str(ipaddress.ip_network((rng.getrandbits(128), bits6), strict=False)))
    return rules


QUERIES = ["10.1.2.3/32", "10.0.0.0/8", "10.1.0.0/20", "0.0.0.0/0", "::/0", "2001:db8:1:2::/64"]
QUERIES += ["192.168.0.0/16", "fd00:1::/32", "192.168.1.7", "2001:db8::1"]


@pytest.mark.parametrize("mode", ["within", "overlaps"])
@pytest.mark.parametrize("capabilities", [Capabilities.ferretdb(), Capabilities.mongodb()])
def test_candidate_filter_is_a_superset_of_exact_matching(
    mode: Literal["within", "overlaps"], capabilities: Capabilities
) -> None:
    rules = _random_rules()
    for text in QUERIES:
        network = parse_network(text)
        query = candidate_filter(network, mode, capabilities)
        wanted = IPRange.of(network)
        for rule in rules:
            stored = IPRange.of(rule)
            if stored.matches(wanted, mode):
                assert _matches_filter([to_hex(stored.first)], query, capabilities), (
                    rule,
                    text,
                    mode,
                )


@pytest.mark.parametrize("mode", ["contains", "exact"])
def test_candidate_ranges_name_every_matching_range_and_no_other(
    mode: Literal["contains", "exact"],
) -> None:
    """The posting lookups of a search are exactly the ranges that match it."""
    rules = _random_rules()
    lengths = {4: sorted({parse_network(r).prefixlen for r in rules if ":" not in r})}
    lengths[6] = sorted({parse_network(r).prefixlen for r in rules if ":" in r})
    for text in QUERIES:
        network = parse_network(text)
        looked_up = set(candidate_ranges(network, mode, "ingress", lengths[network.version]))
        wanted = IPRange.of(network)
        for rule in rules:
            stored = parse_network(rule)
            matches = IPRange.of(stored).matches(wanted, mode)
            assert (range_id("ingress", stored) in looked_up) == matches, (rule, text, mode)


def test_within_uses_elem_match_only_where_the_server_understands_it() -> None:
    network = parse_network("10.0.0.0/8")
    mongodb = candidate_filter(network, "within", Capabilities.mongodb())
    assert mongodb == {
        "ranges": {"$elemMatch": {"lo": {"$gte": _hex("10.0.0.0"), "$lte": _hex("10.255.255.255")}}}
    }
    ferretdb = candidate_filter(network, "within", Capabilities.ferretdb())
    assert ferretdb == {"ranges.lo": {"$gte": _hex("10.0.0.0"), "$lte": _hex("10.255.255.255")}}
