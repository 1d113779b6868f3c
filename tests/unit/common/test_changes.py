"""The readable change list and the jsondiff: what the auditor stores and the API shows."""

from __future__ import annotations

import json

from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.changes import change_list, config_doc, diff_text, json_diff

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
HTTPS_V6 = Rule(
    direction="ingress",
    protocol="tcp",
    from_port=443,
    to_port=443,
    source_kind="cidr6",
    source="::/0",
    description="web",
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


def test_added_and_removed_rules_are_listed() -> None:
    changes = change_list(group(HTTPS_V6), group(SSH))
    assert changes == ["+ ingress tcp/22 from 0.0.0.0/0", "- ingress tcp/443 from ::/0"]


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


def test_a_changed_description_is_one_change_not_two() -> None:
    renamed = HTTPS_V6.model_copy(update={"description": "public web"})
    assert change_list(group(HTTPS_V6), group(renamed)) == [
        '~ ingress tcp/443 from ::/0 description: "web" → "public web"'
    ]


def test_properties_and_tags_are_listed() -> None:
    old = group(tags={"env": "prod", "owner": "a"})
    new = group(name="web2", tags={"env": "dev", "team": "x"})
    assert change_list(old, new) == [
        "name: web → web2",
        "tag env: prod → dev",
        "- tag owner: a",
        "+ tag team: x",
    ]


def test_a_new_group_lists_every_rule() -> None:
    assert change_list(None, group(SSH, PEER)) == [
        "+ egress all to sg-123 (acct 111111111111)",
        "+ ingress tcp/22 from 0.0.0.0/0",
    ]


def test_identical_versions_have_no_changes_and_an_empty_jsondiff() -> None:
    assert change_list(group(SSH), group(SSH)) == []
    assert json_diff(group(SSH), group(SSH)) == {}
    assert json.loads(diff_text(group(SSH), group(SSH))) == {}


def test_diff_is_explicit_jsondiff_as_text() -> None:
    text = diff_text(group(SSH), group(SSH, tags={"Owner": "a"}))
    assert json.loads(text) == {"$update": {"tags": {"$insert": {"Owner": "a"}}}}


def test_the_api_diff_is_the_stored_diff_parsed() -> None:
    """Between two adjacent revisions the API shows exactly what the auditor stored."""
    old, new = group(HTTPS_V6, tags={"env": "prod"}), group(SSH, name="web2")
    assert json_diff(old, new) == json.loads(diff_text(old, new))
    diff = json_diff(group(), group(SSH))
    assert "$update" in diff and "rules" in diff["$update"]


def test_a_stored_configuration_reads_back_as_the_same_group() -> None:
    config = group(SSH, tags={"kubernetes.io/cluster/x": "owned"})
    doc = config_doc(config)
    assert doc["tags"] == [{"key": "kubernetes.io/cluster/x", "value": "owned"}]
    assert CanonicalGroup.model_validate(doc) == config
