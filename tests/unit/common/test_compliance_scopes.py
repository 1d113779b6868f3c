"""Which groups a scope covers, who may review, and what auto-approves."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from secmonkey.common.compliance_scopes import AutoApproval, Scope, scopes_of
from secmonkey.common.documents import role_allows

PCI = Scope(name="pci", tags={"compliance": "pci"}, account_labels=["cardholder"])
SOX = Scope(name="sox", vpc_ids=["vpc-fin"], group_ids=["sg-ledger"])


def test_a_group_may_be_in_several_scopes_by_any_criterion() -> None:
    def of(labels: list[str], tags: dict[str, str], vpc: str | None, gid: str) -> list[str]:
        return scopes_of([PCI, SOX], account_labels=labels, tags=tags, vpc_id=vpc, group_id=gid)

    assert of([], {"compliance": "pci"}, "vpc-fin", "sg-1") == ["pci", "sox"]
    assert of(["cardholder"], {}, None, "sg-1") == ["pci"]
    assert of([], {}, None, "sg-ledger") == ["sox"]
    assert of([], {"compliance": "hipaa"}, "vpc-other", "sg-1") == []


def test_auto_approval_finds_the_ticket_in_a_tag_or_the_session_name() -> None:
    rule = AutoApproval(principal="arn:aws:sts::111111111111:assumed-role/terraform-deploy/*")
    deploy = "arn:aws:sts::111111111111:assumed-role/terraform-deploy/CHG-77-apply"
    assert rule.ticket_for(deploy, {"change-ticket": "see CHG-4242"}) == "CHG-4242"
    assert rule.ticket_for(deploy, {}) == "CHG-77"
    person = "arn:aws:sts::111111111111:assumed-role/Admin/CHG-1-alice"
    assert rule.ticket_for(person, {"change-ticket": "CHG-4242"}) is None
    bare = "arn:aws:sts::111111111111:assumed-role/terraform-deploy/nightly"
    assert rule.ticket_for(bare, {}) is None


def test_a_bad_ticket_pattern_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        AutoApproval(principal="*", ticket_pattern="(")


def test_the_reviewer_role_can_review_and_nothing_else() -> None:
    assert role_allows("reviewer", "reviewer")
    assert not role_allows("reviewer", "viewer") and not role_allows("reviewer", "admin")
    assert role_allows("auditor", "reviewer") and role_allows("admin", "reviewer")
    assert not role_allows("viewer", "reviewer")
    assert role_allows("admin", "viewer") and not role_allows("viewer", "auditor")
