"""The rules file: defaults, layering, and refusal with the line and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from secmonkey.auditor.rules.rules_file import RulesConfig, RulesFileError, load_rules, parse_rules
from secmonkey.common.severity import Severity


def test_no_file_gives_the_design_defaults() -> None:
    config = load_rules(None)
    assert config == RulesConfig()
    assert config.settings_for("internet-admin-port", "111111111111").enabled is True
    assert config.settings_for("internet-egress-all", "111111111111").enabled is False


def test_a_full_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  internet-admin-port: {severity: critical, ports: [22, 20-21, udp/11211]}\n"
        "  large-port-range: {max_ports: 1000}\n"
        "allowlist:\n"
        "  office: 198.51.100.0/24\n"
        "trusted_accounts: ['222222222222']\n"
        "accounts:\n"
        "  '111111111111':\n"
        "    rules: {internet-admin-port: {enabled: false}}\n"
        "    trusted_accounts: ['333333333333']\n"
    )
    config = load_rules(path)
    admin = config.settings_for("internet-admin-port", "444444444444")
    assert admin.severity is Severity.CRITICAL and admin.enabled is True
    assert [p.text() for p in admin.get_ports()] == ["22", "20-21", "udp/11211"]
    assert config.settings_for("internet-admin-port", "111111111111").enabled is False
    assert config.settings_for("internet-admin-port", "111111111111").severity is Severity.CRITICAL
    assert config.trusted_for("111111111111") == {"222222222222", "333333333333"}
    assert set(config.allowlist_for("111111111111")) == {"office"}
    assert config.digest() != RulesConfig().digest()


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("rules:\n  broad-cidr: {}\n  not-a-rule: {}\n", 3, "unknown rule id 'not-a-rule'"),
        ("rules:\n  broad-cidr:\n    ipv4_prefix: 40\n", 3, "less than or equal to 32"),
        (
            "allowlist:\n  ok: 10.0.0.0/8\n  office: 10.0.0.300/24\n",
            3,
            "invalid IP address '10.0.0.300'",
        ),
        ("rules:\n  internet-admin-port:\n    ports: [22, 70000]\n", 3, "ports run 0-65535"),
        (
            "rules:\n  unused-group:\n    enabled: true\n    colour: red\n",
            4,
            "Extra inputs are not permitted",
        ),
        ("trusted_accounts:\n  - '12345'\n", 2, "should match pattern"),
        ("rules: [\n", 2, "not valid YAML"),
        ("- just\n- a list\n", 1, "must be a mapping"),
    ],
)
def test_a_broken_file_is_refused_with_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesFileError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:"), message
    assert reason in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.yaml")


def test_an_empty_file_is_the_defaults() -> None:
    assert parse_rules("") == RulesConfig()
