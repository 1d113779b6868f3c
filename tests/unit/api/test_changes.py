"""The change list is what an operator reads in a diff; it must name every difference."""

from __future__ import annotations

from secmonkey.api.changes import change_list, json_diff
from secmonkey.common.canonical import CanonicalGroup, Rule

SSH_WORLD = Rule(
    direction="ingress", protocol="tcp", from_port=22, to_port=22, source_kind="cidr4",
    source="0.0.0.0/0",
)  # fmt: skip
HTTPS_V6 = Rule(
    direction="ingress", protocol="tcp", from_port=443, to_port=443, source_kind="cidr6",
    source="::/0", description="web",
)  # fmt: skip


def group(rules: list[Rule], **fields: object) -> CanonicalGroup:
    base: dict[str, object] = {
        "group_id": "sg-1", "name": "web", "owner_id": "111111111111", "vpc_id": "vpc-1",
    }  # fmt: skip
    return CanonicalGroup(**(base | fields), rules=rules).normalised()  # type: ignore[arg-type]


def test_added_and_removed_rules_are_listed() -> None:
    changes = change_list(group([HTTPS_V6]), group([SSH_WORLD]))
    assert changes == ["+ ingress tcp/22 from 0.0.0.0/0", "- ingress tcp/443 from ::/0"]


def test_a_changed_description_is_one_change_not_two() -> None:
    renamed = HTTPS_V6.model_copy(update={"description": "public web"})
    assert change_list(group([HTTPS_V6]), group([renamed])) == [
        '~ ingress tcp/443 from ::/0 description: "web" → "public web"'
    ]


def test_properties_and_tags_are_listed() -> None:
    old = group([], tags={"env": "prod", "owner": "a"})
    new = group([], name="web2", tags={"env": "dev", "team": "x"})
    changes = change_list(old, new)
    assert changes == [
        "name: web → web2",
        "tag env: prod → dev",
        "- tag owner: a",
        "+ tag team: x",
    ]


def test_identical_versions_have_no_changes_and_an_empty_jsondiff() -> None:
    assert change_list(group([SSH_WORLD]), group([SSH_WORLD])) == []
    assert json_diff(group([SSH_WORLD]), group([SSH_WORLD])) == {}


def test_jsondiff_is_explicit_syntax() -> None:
    diff = json_diff(group([]), group([SSH_WORLD]))
    assert "$update" in diff and "rules" in diff["$update"]
