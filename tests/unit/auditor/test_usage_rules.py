"""unused-rule and narrowable-rule: what the flow-log facts on a snapshot make them say.

If these fail, users see rules reported unused although an interface was never logged
(the peers' most complained-about false positive), or get no narrowing suggestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from secmonkey.auditor.rules import RULES_BY_ID
from secmonkey.auditor.rules.rules_file import parse_rules
from secmonkey.common.canonical import Attachments
from secmonkey.common.rule_usage import Count, RuleUsage
from tests.unit.auditor.rulekit import findings, group, rule

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
SSH = rule("tcp", 22, "10.0.0.0/8")
HTTPS = rule("tcp", 443, "0.0.0.0/0")


def attached(*usage: RuleUsage) -> Attachments:
    return Attachments(interface_count=2, interface_types=["interface"], usage=list(usage))


def facts(r, **values) -> RuleUsage:  # type: ignore[no-untyped-def]
    base = {"rule": r.text(), "as_of": NOW, "covered_since": NOW - timedelta(days=40)}
    return RuleUsage(**(base | values))


def only(rule_id: str, found: list) -> list:  # type: ignore[type-arg]
    return [f for f in found if f.rule_id == rule_id]


def test_a_rule_idle_for_30_days_on_fully_logged_interfaces_is_unused() -> None:
    usage = facts(SSH, last_used=NOW - timedelta(days=31))
    found = only("unused-rule", findings(group(SSH), attachments=attached(usage)))
    assert len(found) == 1
    assert found[0].rule_text == SSH.text()
    assert "no accepted inbound flow for 30 days" in found[0].message
    assert "last used 2026-11-05" in found[0].message


def test_a_rule_used_within_the_window_is_not_unused() -> None:
    usage = facts(SSH, last_used=NOW - timedelta(days=2), hits=5)
    assert not only("unused-rule", findings(group(SSH), attachments=attached(usage)))


def test_an_interface_without_flow_logs_makes_the_rule_unknown_not_unused() -> None:
    usage = facts(SSH, covered_since=None)
    assert not only("unused-rule", findings(group(SSH), attachments=attached(usage)))


def test_logs_younger_than_the_window_do_not_make_a_rule_unused() -> None:
    usage = facts(SSH, covered_since=NOW - timedelta(days=10))
    assert not only("unused-rule", findings(group(SSH), attachments=attached(usage)))
    config = parse_rules("rules: {unused-rule: {days: 7}}")
    found = only("unused-rule", findings(group(SSH), config, attachments=attached(usage)))
    assert found and "for 7 days" in found[0].message


def test_flows_to_ephemeral_ports_that_may_be_replies_keep_the_rule_unknown() -> None:
    wide = rule("tcp", (1024, 65535), "0.0.0.0/0")
    usage = facts(wide, ambiguous=40)
    assert not only("unused-rule", findings(group(wide), attachments=attached(usage)))


def test_no_flow_log_facts_at_all_say_nothing() -> None:
    assert not only("unused-rule", findings(group(SSH), attachments=attached()))
    assert not only("narrowable-rule", findings(group(HTTPS), attachments=attached()))


def test_a_wide_rule_used_by_three_networks_gets_a_suggestion() -> None:
    nets = [
        Count(source=n, hits=h)
        for n, h in [("198.51.100.0/24", 50), ("203.0.113.0/24", 20), ("192.0.2.0/24", 3)]
    ]
    usage = facts(HTTPS, hits=73, last_used=NOW, distinct_sources=9, networks=nets, network_count=3)
    found = only("narrowable-rule", findings(group(HTTPS), attachments=attached(usage)))
    assert len(found) == 1
    assert found[0].message == (
        "0.0.0.0/0 tcp/443: 30 days of traffic from 3 networks: "
        "198.51.100.0/24, 203.0.113.0/24, 192.0.2.0/24"
    )


def test_many_networks_approximate_counts_and_narrow_rules_are_not_narrowable() -> None:
    nets = [Count(source=f"198.51.{i}.0/24", hits=1) for i in range(4)]
    many = facts(HTTPS, hits=4, networks=nets, network_count=4)
    assert not only("narrowable-rule", findings(group(HTTPS), attachments=attached(many)))
    approx = facts(HTTPS, hits=4, networks=nets[:1], network_count=1, approximate=True)
    assert not only("narrowable-rule", findings(group(HTTPS), attachments=attached(approx)))
    narrow = rule("tcp", 443, "198.51.100.0/24")
    used = facts(narrow, hits=4, networks=nets[:1], network_count=1)
    assert not only("narrowable-rule", findings(group(narrow), attachments=attached(used)))


def test_usage_rules_have_compliance_tags_and_settings() -> None:
    for rule_id in ("unused-rule", "narrowable-rule"):
        assert any("PCI DSS 4.0" in t for t in RULES_BY_ID[rule_id].compliance)
    config = parse_rules("rules: {narrowable-rule: {max_networks: 5, min_hits: 10}}")
    assert config.settings_for("narrowable-rule", "111111111111").max_networks == 5
