"""Every rule's compliance tags name a known framework and control, so the posture view
(`/api/v1/compliance/{framework}`) lists each rule under a real control; and the catalog
the auditor publishes carries the tags and the rules file's switches."""

from __future__ import annotations

from secmonkey.auditor.catalog import catalog
from secmonkey.auditor.rules import RULES
from secmonkey.auditor.rules.rules_file import parse_rules
from secmonkey.common.frameworks import FRAMEWORKS, NIST_800_53, controls_in, split_tag


def test_every_tag_names_a_known_framework_and_control() -> None:
    for rule in RULES:
        for tag in rule.compliance:
            parsed = split_tag(tag)
            assert parsed is not None, f"{rule.id}: unknown framework in {tag!r}"
            framework, control = parsed
            assert framework.control_title(control), f"{rule.id}: no title for {tag!r}"


def test_every_rule_names_a_nist_800_53_rev5_control() -> None:
    missing = [rule.id for rule in RULES if not controls_in(rule.compliance, NIST_800_53)]
    assert not missing, f"rules without a NIST 800-53 rev 5 control: {missing}"
    tagged = {rule.id: controls_in(rule.compliance, NIST_800_53) for rule in RULES}
    assert "AC-17" in tagged["internet-admin-port"]
    assert "SC-7" in tagged["internet-ingress"]
    assert "CA-3" in tagged["unknown-account"]
    assert "CM-8" in tagged["unused-group"]


def test_the_longest_framework_prefix_wins_and_unknown_tags_are_none() -> None:
    assert split_tag("PCI DSS 4.0 1.3.1") == (FRAMEWORKS["pci"], "1.3.1")
    assert split_tag("NIST 800-53 rev 5 SC-7(5)") == (NIST_800_53, "SC-7(5)")
    assert split_tag("HIPAA 164.312(e)(1)") == (FRAMEWORKS["hipaa"], "164.312(e)(1)")
    assert split_tag("ISO 27001 A.13") is None
    assert split_tag("PCI DSS 4.0") is None  # no control


def test_the_catalog_carries_tags_and_the_rules_files_switches() -> None:
    config = parse_rules(
        "rules:\n  unused-group: {enabled: false}\n"
        'accounts:\n  "111111111111":\n    rules:\n      unused-group: {enabled: true}\n'
    )
    entries = {entry.id: entry for entry in catalog(config)}
    assert set(entries) == {rule.id for rule in RULES}
    assert entries["unused-group"].enabled is False
    assert entries["unused-group"].account_overrides == {"111111111111": True}
    assert entries["internet-egress-all"].enabled is False  # off by default
    assert entries["internet-admin-port"].account_overrides == {}
    assert "NIST 800-53 rev 5 AC-17" in entries["internet-admin-port"].compliance
