"""Every audit rule of DESIGN §5: what it finds, what it leaves alone, and how context changes it."""

from __future__ import annotations

import pytest

from secmonkey.auditor.rules import RULES, RULES_BY_ID
from secmonkey.auditor.rules.rules_file import parse_rules
from secmonkey.common.severity import Severity
from tests.unit.auditor.rulekit import (
    ATTACHED,
    PUBLIC,
    UNATTACHED,
    by_rule,
    findings,
    group,
    rule,
    rule_ids,
)


def only(rule_id: str, found: list) -> list:
    return [f for f in found if f.rule_id == rule_id]


# -- internet-all-ports --------------------------------------------------------------------


@pytest.mark.parametrize(
    "r",
    [
        rule("-1", None, "0.0.0.0/0"),
        rule("-1", None, "::/0"),
        rule("tcp", (0, 65535), "0.0.0.0/0"),
        rule("udp", (0, 65535), "::/0"),
    ],
    ids=["all-v4", "all-v6", "tcp-every-port", "udp-every-port-v6"],
)
def test_every_port_from_the_internet_is_critical(r) -> None:
    found = by_rule(findings(group(r)))
    assert [f.severity for f in found["internet-all-ports"]] == [Severity.CRITICAL]
    assert "internet-admin-port" not in found and "internet-ingress" not in found
    assert r.text() in found["internet-all-ports"][0].message


def test_every_port_from_a_private_range_is_not_internet_all_ports() -> None:
    assert "internet-all-ports" not in rule_ids(findings(group(rule("-1", None, "10.0.0.0/8"))))


def test_tcp_from_1_to_65535_is_not_every_port_but_exposes_admin_ports() -> None:
    found = by_rule(findings(group(rule("tcp", (1, 65535)))))
    assert "internet-all-ports" not in found
    assert found["internet-admin-port"][0].severity is Severity.HIGH


# -- internet-admin-port -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "source", "label"),
    [
        (22, "0.0.0.0/0", "SSH (22)"),
        (22, "::/0", "SSH (22)"),
        (3389, "0.0.0.0/0", "RDP (3389)"),
        (21, "0.0.0.0/0", "FTP (20-21)"),  # upper edge of 20-21
        (20, "::/0", "FTP (20-21)"),  # lower edge
        (1434, "0.0.0.0/0", "SQL Server (1433-1434)"),
        ((3300, 3310), "0.0.0.0/0", "MySQL (3306)"),  # a range covering the port
        ((27018, 27100), "0.0.0.0/0", "MongoDB (27017-27018)"),  # overlapping at the edge
    ],
)
def test_admin_port_from_the_internet_is_high(ports, source, label) -> None:
    r = rule("tcp", ports, source)
    found = only("internet-admin-port", findings(group(r)))
    assert len(found) == 1
    assert found[0].severity is Severity.HIGH
    assert found[0].message.startswith(r.text())
    assert label in found[0].message
    assert found[0].rule_text == r.text()


@pytest.mark.parametrize("ports", [19, 24, 1435, (3307, 3388), 27019])
def test_ports_just_outside_admin_ranges_are_plain_internet_ingress(ports) -> None:
    found = by_rule(findings(group(rule("tcp", ports))))
    assert "internet-admin-port" not in found
    assert found["internet-ingress"][0].severity is Severity.MEDIUM


def test_a_rule_only_matches_the_protocol_it_names() -> None:
    found = by_rule(findings(group(rule("udp", 22))))
    assert "internet-admin-port" not in found  # SSH is tcp
    assert "internet-ingress" in found
    assert "internet-admin-port" in rule_ids(findings(group(rule("udp", 11211))))  # memcached


def test_admin_port_from_a_private_range_is_not_an_internet_finding() -> None:
    found = rule_ids(findings(group(rule("tcp", 22, "10.1.0.0/16"), rule("tcp", 22, "fd00::/8"))))
    assert not found & {"internet-admin-port", "internet-ingress", "internet-all-ports"}


def test_admin_port_list_comes_from_settings() -> None:
    config = parse_rules("rules:\n  internet-admin-port: {ports: [8443]}\n")
    assert "internet-admin-port" in rule_ids(findings(group(rule("tcp", 8443)), config))
    found = by_rule(findings(group(rule("tcp", 22)), config))
    assert "internet-admin-port" not in found
    assert "internet-ingress" in found  # no longer an admin port, still open


# -- internet-ingress ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "severity"),
    [
        (443, Severity.LOW),
        (80, Severity.LOW),
        (8080, Severity.MEDIUM),
        ((8000, 8100), Severity.MEDIUM),
    ],
)
def test_other_ingress_from_the_internet(ports, severity) -> None:
    found = only("internet-ingress", findings(group(rule("tcp", ports, "::/0"))))
    assert [f.severity for f in found] == [severity]


def test_icmp_from_the_internet_is_medium() -> None:
    r = rule("icmp", (8, 0))
    found = only("internet-ingress", findings(group(r)))
    assert found[0].severity is Severity.MEDIUM
    assert "icmp/8:0" in found[0].message


def test_severity_override_applies_to_web_ports_too() -> None:
    config = parse_rules("rules:\n  internet-ingress: {severity: high}\n")
    assert (
        only("internet-ingress", findings(group(rule("tcp", 443)), config))[0].severity
        is Severity.HIGH
    )


# -- public-source and broad-cidr ------------------------------------------------------------


def test_public_range_is_a_low_public_source() -> None:
    found = by_rule(findings(group(rule("tcp", 443, "8.8.8.0/24"))))
    assert found["public-source"][0].severity is Severity.LOW
    assert "8.8.8.0/24" in found["public-source"][0].message
    assert "broad-cidr" not in found  # /24 is the edge: not wider


@pytest.mark.parametrize(
    "source",
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.1.0/24", "100.64.0.0/10", "fd12::/16", "127.0.0.1/32"],
)
def test_private_and_special_ranges_are_not_public(source) -> None:
    assert not rule_ids(findings(group(rule("tcp", 443, source)))) & {"public-source", "broad-cidr"}


@pytest.mark.parametrize(
    ("source", "broad"),
    [
        ("8.8.8.0/23", True),
        ("8.8.8.0/24", False),
        ("2a00:1450::/47", True),
        ("2a00:1450:4000::/48", False),
    ],
)
def test_broad_public_ranges(source, broad) -> None:
    found = by_rule(findings(group(rule("tcp", 443, source))))
    assert ("broad-cidr" in found) is broad
    assert "public-source" in found
    if broad:
        assert found["broad-cidr"][0].severity is Severity.MEDIUM


def test_broad_cidr_thresholds_come_from_settings() -> None:
    config = parse_rules("rules:\n  broad-cidr: {ipv4_prefix: 16}\n")
    assert "broad-cidr" not in rule_ids(findings(group(rule("tcp", 443, "8.8.0.0/16")), config))
    assert "broad-cidr" in rule_ids(findings(group(rule("tcp", 443, "8.0.0.0/15")), config))


# -- large-port-range ------------------------------------------------------------------------


@pytest.mark.parametrize(("ports", "hit"), [((1000, 1100), True), ((1000, 1099), False)])
def test_large_port_range_edges(ports, hit) -> None:
    found = only("large-port-range", findings(group(rule("tcp", ports, "10.0.0.0/8"))))
    assert bool(found) is hit
    if hit:
        assert "101 ports" in found[0].message


def test_protocol_all_is_every_port() -> None:
    assert only("large-port-range", findings(group(rule("-1", None, "10.0.0.0/8"))))


def test_a_group_talking_to_itself_is_not_a_large_range() -> None:
    assert not only("large-port-range", findings(group(rule("tcp", (0, 65535), "sg-1"))))
    assert only("large-port-range", findings(group(rule("tcp", (0, 65535), "sg-2"))))


def test_egress_ranges_are_not_large_port_findings() -> None:
    assert not only(
        "large-port-range",
        findings(group(rule("tcp", (1, 2000), "10.0.0.0/8", direction="egress"))),
    )


# -- unknown-account -------------------------------------------------------------------------


def test_reference_to_an_unknown_account_is_high() -> None:
    r = rule("tcp", 443, "sg-9", account="999999999999")
    found = only("unknown-account", findings(group(r)))
    assert found[0].severity is Severity.HIGH
    assert "999999999999" in found[0].message and found[0].rule_text == r.text()


def test_monitored_trusted_and_own_accounts_are_known() -> None:
    r = rule("tcp", 443, "sg-9", account="999999999999")
    assert not only("unknown-account", findings(group(r), monitored=frozenset({"999999999999"})))
    assert not only("unknown-account", findings(group(r), trusted=frozenset({"999999999999"})))
    config = parse_rules('trusted_accounts: ["999999999999"]\n')
    assert not only("unknown-account", findings(group(r), config))
    assert not only("unknown-account", findings(group(rule("tcp", 443, "sg-2"))))


# -- group-level rules ----------------------------------------------------------------------


def test_default_group_with_rules() -> None:
    found = only("default-group-rules", findings(group(rule("tcp", 443, "sg-1"), name="default")))
    assert found[0].severity is Severity.MEDIUM and found[0].rule_text == ""
    assert not only("default-group-rules", findings(group(name="default")))
    assert not only("default-group-rules", findings(group(rule("tcp", 443, "sg-1"))))


def test_unused_group_is_info_and_default_groups_are_exempt() -> None:
    found = only("unused-group", findings(group(), attachments=UNATTACHED))
    assert found[0].severity is Severity.INFO
    assert not only("unused-group", findings(group(), attachments=ATTACHED))
    assert not only("unused-group", findings(group(name="default"), attachments=UNATTACHED))


def test_many_rules_edge() -> None:
    fifty = [rule("tcp", 10000 + i, "10.0.0.0/8") for i in range(50)]
    assert not only("many-rules", findings(group(*fifty)))
    found = only("many-rules", findings(group(*fifty, rule("tcp", 9999, "10.0.0.0/8"))))
    assert found[0].severity is Severity.LOW and "51 rules" in found[0].message


def test_internet_egress_all_is_off_by_default_and_can_be_enabled() -> None:
    g = group(rule("-1", None, "0.0.0.0/0", direction="egress"))
    assert not only("internet-egress-all", findings(g))
    config = parse_rules("rules:\n  internet-egress-all: {enabled: true}\n")
    assert only("internet-egress-all", findings(g, config))[0].severity is Severity.INFO
    narrow = group(rule("-1", None, "10.0.0.0/8", direction="egress"))
    assert not only("internet-egress-all", findings(narrow, config))


# -- exposure, allowlist, trusted accounts, settings -----------------------------------------


@pytest.mark.parametrize(
    ("attachments", "severity"),
    [(UNATTACHED, Severity.MEDIUM), (ATTACHED, Severity.HIGH), (PUBLIC, Severity.CRITICAL)],
)
def test_exposure_context_moves_severity_one_step(attachments, severity) -> None:
    assert (
        only("internet-admin-port", findings(group(rule()), attachments=attachments))[0].severity
        is severity
    )


def test_critical_stays_critical_on_a_public_interface_and_exposure_can_be_off() -> None:
    assert (
        only("internet-all-ports", findings(group(rule("-1", None)), attachments=PUBLIC))[
            0
        ].severity
        is Severity.CRITICAL
    )
    config = parse_rules("exposure: {enabled: false}\n")
    assert (
        only("internet-admin-port", findings(group(rule()), config, attachments=PUBLIC))[0].severity
        is Severity.HIGH
    )


def test_allowlisted_networks_silence_findings_within_them() -> None:
    g = group(rule("tcp", 443, "8.8.8.0/24"), rule("tcp", 443, "2a00:1450::/32"))
    assert not rule_ids(findings(g, allowlist={"partner": "8.8.0.0/16", "v6": "2a00:1450::/29"}))
    config = parse_rules("allowlist:\n  partner: 8.8.8.0/25\n")  # narrower: does not cover
    assert only("public-source", findings(g, config))


def test_allowlist_per_account_override() -> None:
    config = parse_rules('accounts:\n  "111111111111":\n    allowlist: {partner: 8.8.8.0/24}\n')
    g = group(rule("tcp", 443, "8.8.8.0/24"))
    assert not only("public-source", findings(g, config))
    assert only("public-source", findings(g, config, account="222222222222"))


def test_trusted_accounts_silence_findings_naming_them() -> None:
    r = rule("tcp", (0, 65535), "sg-9", account="999999999999")
    assert rule_ids(findings(group(r))) == {"large-port-range", "unknown-account"}
    assert not rule_ids(findings(group(r), trusted=frozenset({"999999999999"})))


def test_disable_and_per_account_overrides() -> None:
    config = parse_rules(
        "rules:\n  internet-admin-port: {severity: critical}\n"
        'accounts:\n  "111111111111":\n    rules:\n      internet-admin-port: {enabled: false}\n'
    )
    g = group(rule())
    assert not only("internet-admin-port", findings(g, config))
    assert only("internet-ingress", findings(g, config))  # still open to the internet
    other = only("internet-admin-port", findings(g, config, account="222222222222"))
    assert other[0].severity is Severity.CRITICAL


def test_every_rule_has_an_id_severity_and_compliance_tags() -> None:
    assert len(RULES) == 13 and len(RULES_BY_ID) == 13
    tagged = {r.id: r.compliance for r in RULES}
    assert any("CIS AWS Foundations" in t for t in tagged["internet-admin-port"])
    assert any("PCI DSS 4.0" in t for t in tagged["internet-all-ports"])
    assert "HIPAA 164.312(e)(1)" in tagged["internet-all-ports"]
    assert "SOC 2 CC6.6" in tagged["internet-ingress"]
    assert {"AWS FSBP EC2.13", "AWS FSBP EC2.14", "AWS FSBP EC2.19"} <= set(
        tagged["internet-admin-port"]
    )
    assert "AWS FSBP EC2.2" in tagged["default-group-rules"]
    assert "AWS FSBP EC2.18" in tagged["internet-ingress"]


def test_findings_carry_the_issue_identity_of_the_offending_rule() -> None:
    from secmonkey.common.documents import issue_id

    r = rule()
    f = only("internet-admin-port", findings(group(r)))[0]
    assert f.issue_id == issue_id(
        "aws:111111111111:us-east-1:sg-1", "internet-admin-port", r.text()
    )
