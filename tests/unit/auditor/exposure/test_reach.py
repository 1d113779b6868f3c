"""Reachability over a hand-built topology: what a security engineer would be told is
reachable from the internet, and through which rule, route and ACL."""

from __future__ import annotations

from secmonkey.auditor.exposure.index import TopologyIndex
from secmonkey.auditor.exposure.store import enrich
from secmonkey.common.canonical import Attachments, CanonicalGroup
from secmonkey.common.severity import Severity
from secmonkey.common.topology import AclEntry
from tests.unit.auditor.exposure.estate import ALLOW_ALL, topology
from tests.unit.auditor.rulekit import ACCOUNT, findings, group, rule

ATTACHED2 = Attachments(interface_count=2, interface_types=["interface"], public_ip=True)


def _group(*rules, group_id: str = "sg-1") -> CanonicalGroup:  # type: ignore[no-untyped-def]
    return group(*rules).model_copy(update={"group_id": group_id})


def _attach(g: CanonicalGroup, **kw) -> Attachments:  # type: ignore[no-untyped-def]
    return enrich(ATTACHED2, g, TopologyIndex.of(topology(**kw)))


def _by_rule(g: CanonicalGroup, attachments: Attachments) -> dict[str, Severity]:
    return {f.rule_id: f.severity for f in findings(g, attachments=attachments)}


def test_instance_with_elastic_ip_in_public_subnet_is_reachable_on_22_and_critical() -> None:
    g = _group(rule("tcp", 22))
    attachments = _attach(g)
    assert attachments.endpoints is not None
    ids = {(e.resource_id, e.address) for e in attachments.endpoints}
    assert ("i-1", "54.1.2.3") in ids
    assert all(e.resource_id != "i-2" for e in attachments.endpoints)  # private subnet
    [e] = [e for e in attachments.endpoints if e.address == "54.1.2.3"]
    assert e.text() == "i-1 (54.1.2.3) tcp/22 via rtb-pub/igw-1"
    found = findings(g, attachments=attachments)
    [admin] = [f for f in found if f.rule_id == "internet-admin-port"]
    assert admin.severity is Severity.CRITICAL
    assert "i-1 (54.1.2.3) tcp/22 via rtb-pub/igw-1" in admin.message


def test_private_subnet_only_is_not_reachable_and_lowers_the_finding() -> None:
    g = _group(rule("tcp", 22))
    t = topology()
    t.interfaces = [i for i in t.interfaces if i.id == "eni-2"]
    attachments = enrich(ATTACHED2, g, TopologyIndex.of(t))
    assert attachments.endpoints == []
    found = {f.rule_id: f for f in findings(g, attachments=attachments)}
    assert found["internet-admin-port"].severity is Severity.MEDIUM  # high lowered one step
    assert "not reachable from the internet" in found["internet-admin-port"].message


def test_nacl_denying_22_makes_it_unreachable() -> None:
    deny = AclEntry(
        number=50,
        egress=False,
        protocol="tcp",
        from_port=22,
        to_port=22,
        cidr="0.0.0.0/0",
        allow=False,
    )
    deny6 = deny.model_copy(update={"cidr": "::/0"})
    g = _group(rule("tcp", 22))
    attachments = _attach(g, acl_entries=[deny, deny6, *ALLOW_ALL])
    assert attachments.endpoints == []
    assert _by_rule(g, attachments)["internet-admin-port"] is Severity.MEDIUM


def test_nacl_deny_of_part_of_a_range_narrows_the_exposed_ports() -> None:
    deny = AclEntry(
        number=50,
        egress=False,
        protocol="tcp",
        from_port=22,
        to_port=22,
        cidr="0.0.0.0/0",
        allow=False,
    )
    g = _group(rule("tcp", (20, 25)))
    attachments = _attach(g, acl_entries=[deny, *ALLOW_ALL])
    v4 = [e for e in attachments.endpoints or [] if e.address == "54.1.2.3"]
    assert [e.port_ranges for e in v4] == [[(20, 21), (23, 25)]]


def test_nacl_without_outbound_replies_blocks_tcp() -> None:
    inbound_only = [e for e in ALLOW_ALL if not e.egress]
    g = _group(rule("tcp", 22))
    assert _attach(g, acl_entries=inbound_only).endpoints == []


def test_no_route_to_the_internet_gateway_is_not_reachable() -> None:
    g = _group(rule("tcp", 22))
    attachments = _attach(g, public_route=False)
    assert [e for e in attachments.endpoints or [] if ":" not in e.address] == []


def test_ipv6_address_routed_to_an_internet_gateway_is_reachable() -> None:
    g = _group(rule("tcp", 22, "::/0"))
    attachments = _attach(g)
    assert [(e.resource_id, e.address) for e in attachments.endpoints or []] == [
        ("i-1", "2600:1f18::10")
    ]
    assert _by_rule(g, attachments)["internet-admin-port"] is Severity.CRITICAL


def test_ipv6_behind_an_egress_only_gateway_is_not_reachable() -> None:
    g = _group(rule("tcp", 22, "::/0"))
    attachments = _attach(g, v6_target="eigw-1")
    assert attachments.endpoints == []


def test_load_balancer_on_443_is_reachable_on_443_only() -> None:
    g = _group(rule("tcp", (0, 65535)), group_id="sg-lb")
    attachments = _attach(g)
    [e] = attachments.endpoints or []
    assert (e.resource_type, e.resource_id, e.port_ranges) == (
        "load_balancer",
        "web-lb",
        [(443, 443)],
    )
    assert e.text() == "web-lb (web-lb.example.com) tcp/443 via internet-facing"


def test_load_balancer_listener_outside_the_rule_is_not_exposed() -> None:
    g = _group(rule("tcp", 22), group_id="sg-lb")
    assert _attach(g).endpoints == []


def test_prefix_list_holding_the_internet_is_an_internet_rule() -> None:
    g = _group(rule("tcp", 22, "pl-1"))
    attachments = _attach(g, prefix_lists={"pl-1": ["0.0.0.0/0", "10.0.0.0/8"]})
    assert attachments.prefix_lists == {"pl-1": ["0.0.0.0/0", "10.0.0.0/8"]}
    found = {f.rule_id: f for f in findings(g, attachments=attachments)}
    assert found["internet-admin-port"].severity is Severity.CRITICAL
    assert "i-1 (54.1.2.3)" in found["internet-admin-port"].message


def test_prefix_list_of_private_ranges_is_not_an_internet_rule() -> None:
    g = _group(rule("tcp", 22, "pl-1"))
    attachments = _attach(g, prefix_lists={"pl-1": ["10.0.0.0/8"]})
    assert "internet-admin-port" not in _by_rule(g, attachments)
    assert attachments.endpoints == []


def test_group_used_only_by_a_launch_template_is_not_unused() -> None:
    g = _group(rule("tcp", 443, "10.0.0.0/8"), group_id="sg-9")
    attachments = enrich(
        Attachments(), g, TopologyIndex.of(topology(users={"sg-9": ["launch template lt-1"]}))
    )
    assert attachments.users == ["launch template lt-1"]
    assert "unused-group" not in _by_rule(g, attachments)
    bare = enrich(Attachments(), g, TopologyIndex.of(topology()))
    assert "unused-group" in _by_rule(g, bare)


def test_non_admin_port_reachable_keeps_its_default_severity() -> None:
    g = _group(rule("tcp", 8080))
    assert _by_rule(g, _attach(g))["internet-ingress"] is Severity.MEDIUM


def test_changed_routes_change_the_exposure_key() -> None:
    g = _group(rule("tcp", 22))
    assert _attach(g).exposure() != _attach(g, public_route=False).exposure()
    assert _attach(g).exposure() == _attach(g).exposure()
    assert ACCOUNT  # the rule kit's account owns the topology
