"""The accounts file: valid entries load, each invalid one is refused with its name."""

from __future__ import annotations

import textwrap

from secmonkey.collector.accounts import parse_accounts

FILE = textwrap.dedent(
    """
    accounts:
      - id: "111111111111"
        name: production
        role_arn: arn:aws:iam::111111111111:role/secmonkey-monitor
        external_id: abc-123
        regions: [us-east-1, eu-west-1]
        labels: [pci]
        interval_minutes: 5
      - id: "12345"
        name: short-id
      - id: "222222222222"
        name: bad-arn
        role_arn: arn:aws:iam::222222222222:user/someone
      - id: "333333333333"
        name: other-accounts-role
        role_arn: arn:aws:iam::444444444444:role/secmonkey-monitor
      - id: 555555555555
        name: unquoted-id
        role_arn: arn:aws-us-gov:iam::555555555555:role/path/secmonkey
      - id: "666666666666"
        name: bad-region
        regions: [mars-north-1]
      - id: "111111111111"
        name: duplicate
      - just a string
    """
)


def test_valid_entries_load_and_each_invalid_one_is_named_with_its_problem() -> None:
    result = parse_accounts(FILE, "accounts.yaml")
    assert [a.id for a in result.accounts] == ["111111111111", "555555555555"]
    first = result.accounts[0]
    assert first.external_id == "abc-123" and first.regions == ["us-east-1", "eu-west-1"]
    assert first.labels == ["pci"] and first.interval_minutes == 5
    errors = "\n".join(result.errors)
    assert len(result.errors) == 6, errors
    assert "entry 2 (12345)" in errors and "_id" in errors
    assert "entry 3 (222222222222)" in errors and "not an IAM role ARN" in errors
    assert "entry 4 (333333333333)" in errors and "belongs to account 444444444444" in errors
    assert "entry 6 (666666666666)" in errors and "regions" in errors
    assert "entry 7 (111111111111): duplicate" in errors
    assert "entry 8: expected a mapping" in errors


def test_a_plain_list_and_an_empty_file_are_accepted_and_broken_yaml_is_reported() -> None:
    listed = parse_accounts('- {id: "111111111111", name: a}\n')
    assert [a.id for a in listed.accounts] == ["111111111111"] and not listed.errors
    assert parse_accounts("").accounts == []
    broken = parse_accounts("accounts: [", "x.yaml")
    assert broken.accounts == [] and "x.yaml: not valid YAML" in broken.errors[0]
