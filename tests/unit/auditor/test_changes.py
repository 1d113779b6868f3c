"""The readable change list and the stored diff."""

from __future__ import annotations

import json

from secmonkey.auditor.changes import change_list, diff
from secmonkey.common.canonical import CanonicalGroup, Rule

BASE = {"group_id": "sg-1", "name": "web", "owner_id": "111111111111", "vpc_id": "vpc-1"}


def group(*rules: Rule, **kw: object) -> CanonicalGroup:
    return CanonicalGroup(**{**BASE, **kw}, rules=list(rules)).normalised()  # type: ignore[arg-type]


SSH = Rule(
    direction="ingress",
    protocol="tcp",
    from_port=22,
    to_port=22,
    source_kind="cidr4",
    source="0.0.0.0/0",
)
PEER = Rule(
    direction="egress",
    protocol="-1",
    source_kind="group",
    source="sg-123",
    source_account="111111111111",
)


def test_added_removed_and_retagged() -> None:
    before = group(SSH, tags={"Owner": "a", "Old": "x"})
    after = group(PEER, tags={"Owner": "b", "New": "y"})
    assert change_list(before, after) == [
        "+ egress all to sg-123 (acct 111111111111)",
        "- ingress tcp/22 from 0.0.0.0/0",
        "+ tag New: y",
        "- tag Old: x",
        "tag Owner: a → b",
    ]


def test_description_and_name_changes() -> None:
    before = group(SSH)
    after = group(
        SSH.model_copy(update={"description": "bastion"}), name="web-2", description="new"
    )
    assert change_list(before, after) == [
        '~ ingress tcp/22 from 0.0.0.0/0 description: "" → "bastion"',
        "name: web → web-2",
        "description:  → new",
    ]


def test_a_new_group_lists_every_rule() -> None:
    assert change_list(None, group(SSH, PEER)) == [
        "+ egress all to sg-123 (acct 111111111111)",
        "+ ingress tcp/22 from 0.0.0.0/0",
    ]


def test_diff_is_explicit_jsondiff_as_text() -> None:
    text = diff(group(SSH), group(SSH, tags={"Owner": "a"}))
    assert json.loads(text) == {"$update": {"tags": {"$insert": {"Owner": "a"}}}}
    assert json.loads(diff(group(SSH), group(SSH))) == {}
