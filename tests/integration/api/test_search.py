"""IP and CIDR search over IPv4 and IPv6, every match mode, /0 rules included.

The expected answers are computed from the estate's own configurations with
`IPRange.matches` (the definition of each mode), independently of what the auditor
stored, so a wrong index, a wrong candidate filter or a stale range shows up here.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.estate import BASTION, DB, DEV, HISTORY, LEGACY, WEB

pytestmark = pytest.mark.integration


def found(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["group_id"], r["rule"]["text"]) for r in body["results"]}


@pytest.mark.parametrize(
    "ip",
    ["10.0.1.2", "203.0.113.7", "198.51.100.20", "10.20.3.4", "2001:db8:abcd::1", "fd00:1234::5"],
)
async def test_ip_search_finds_every_rule_whose_range_contains_the_address(
    api: httpx.AsyncClient, ip: str
) -> None:
    response = await api.get("/api/v1/search/ip", params={"ip": ip})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == ip and body["match"] == "contains"
    assert found(body) == HISTORY.expected_rules(ip, "contains")
    # the whole internet contains every address: /0 rules are always among the answers
    families = {"0.0.0.0/0"} if ":" not in ip else {"::/0"}
    assert any(r["rule"]["source"] in families for r in body["results"])


async def test_ip_search_skips_deleted_groups_and_filters_direction_and_account(
    api: httpx.AsyncClient,
) -> None:
    body = (await api.get("/api/v1/search/ip", params={"ip": "8.8.8.8"})).json()
    groups = {r["group_id"] for r in body["results"]}
    assert WEB not in groups  # deleted: its 0.0.0.0/0 rules no longer let anything in
    assert {LEGACY, DB} <= groups
    ingress = (
        await api.get("/api/v1/search/ip", params={"ip": "8.8.8.8", "direction": "ingress"})
    ).json()
    assert found(ingress) == HISTORY.expected_rules("8.8.8.8", "contains", "ingress")
    assert {r["rule"]["direction"] for r in ingress["results"]} == {"ingress"}
    dev = (
        await api.get("/api/v1/search/ip", params={"ip": "2001:db8:abcd::9", "account_id": DEV})
    ).json()
    assert found(dev) == HISTORY.expected_rules("2001:db8:abcd::9", "contains", account=DEV)
    assert {r["group_id"] for r in dev["results"]} == {BASTION}
    match = dev["results"][0]
    assert match["account_id"] == DEV and match["region"] == "eu-west-1"
    assert match["group_name"] == "dev-bastion" and match["vpc_id"] == "vpc-0bbb2222"


@pytest.mark.parametrize(
    ("cidr", "mode"),
    [
        ("10.0.0.0/16", "exact"),
        ("0.0.0.0/0", "exact"),
        ("::/0", "exact"),
        ("10.0.5.0/24", "contains"),
        ("2001:db8:abcd:1::/64", "contains"),
        ("10.0.0.0/8", "within"),
        ("0.0.0.0/0", "within"),
        ("::/0", "within"),
        ("2001:db8::/32", "within"),
        ("10.0.0.0/8", "overlaps"),
        ("2001:db8::/32", "overlaps"),
        ("fd00::/8", "overlaps"),
        ("203.0.113.0/24", "overlaps"),
    ],
)
async def test_cidr_search_in_each_mode(api: httpx.AsyncClient, cidr: str, mode: str) -> None:
    response = await api.get("/api/v1/search/cidr", params={"cidr": cidr, "match": mode})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["match"] == mode and body["query"] == cidr
    assert found(body) == HISTORY.expected_rules(cidr, mode)
    assert found(body), "every case here has at least one matching rule"


async def test_within_the_whole_internet_lists_every_ipv4_rule(api: httpx.AsyncClient) -> None:
    body = (
        await api.get("/api/v1/search/cidr", params={"cidr": "0.0.0.0/0", "match": "within"})
    ).json()
    assert {g for g, _ in found(body)} == {DB, LEGACY, BASTION}


async def test_a_page_ends_at_a_group_and_the_cursor_continues(api: httpx.AsyncClient) -> None:
    params = {"cidr": "::/0", "match": "within", "limit": "1"}
    pages, cursor = [], None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        body = (await api.get("/api/v1/search/cidr", params=query)).json()
        pages.append(body)
        cursor = body["next_cursor"]
        if not cursor:
            break
    everything = set().union(*(found(p) for p in pages))
    assert everything == HISTORY.expected_rules("::/0", "within")
    keys = [p["results"][0]["key"] for p in pages if p["results"]]
    assert keys == sorted(set(keys)), "each group appears on one page, in key order"


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/api/v1/search/ip", {"ip": "300.1.1.1"}, "invalid IP address"),
        ("/api/v1/search/ip", {"ip": "10.0.0.0/8"}, "invalid IP address"),
        ("/api/v1/search/ip", {"ip": ""}, "required"),
        ("/api/v1/search/ip", {}, "query.ip"),
        ("/api/v1/search/ip", {"ip": "10.0.0.1", "direction": "sideways"}, "query.direction"),
        ("/api/v1/search/cidr", {"cidr": "10.0.0.0/33"}, "exceeds /32"),
        ("/api/v1/search/cidr", {"cidr": "2001:db8::/129"}, "exceeds /128"),
        ("/api/v1/search/cidr", {"cidr": "banana"}, "invalid"),
        ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "match": "near"}, "query.match"),
        ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "cursor": "%%%"}, "malformed cursor"),
        ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "limit": "0"}, "query.limit"),
        ("/api/v1/search/cidr", {"cidr": "10.0.0.0/8", "account_id": "12"}, "query.account_id"),
    ],
)
async def test_bad_search_input_is_a_422_that_says_what_was_wrong(
    api: httpx.AsyncClient, path: str, params: dict[str, str], says: str
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


async def test_host_bits_in_a_searched_cidr_are_masked(api: httpx.AsyncClient) -> None:
    body = (
        await api.get("/api/v1/search/cidr", params={"cidr": "10.0.9.9/16", "match": "exact"})
    ).json()
    assert body["query"] == "10.0.0.0/16"
    assert (
        found(body)
        == HISTORY.expected_rules("10.0.0.0/16", "exact")
        == {(DB, "ingress tcp/5432 from 10.0.0.0/16")}
    )
