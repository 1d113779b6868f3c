"""What differs between two versions of a group: a readable change list and the jsondiff."""

from __future__ import annotations

import json
from typing import Any

import jsondiff

from secmonkey.common.canonical import CanonicalGroup, Rule


def _rule_identity(rule: Rule) -> tuple[Any, ...]:
    """A rule without its description: a changed description is a change to the same rule."""
    return rule.sort_key()[:-1]


def change_list(old: CanonicalGroup, new: CanonicalGroup) -> list[str]:
    """One line per property, tag or rule that differs, removed before added."""
    changes: list[str] = []
    for field in ("name", "description", "vpc_id", "owner_id"):
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            changes.append(f"{field}: {before!r} → {after!r}")
    for tag in sorted(set(old.tags) | set(new.tags)):
        before_tag, after_tag = old.tags.get(tag), new.tags.get(tag)
        if before_tag == after_tag:
            continue
        if before_tag is None:
            changes.append(f"tag added: {tag}={after_tag!r}")
        elif after_tag is None:
            changes.append(f"tag removed: {tag} (was {before_tag!r})")
        else:
            changes.append(f"tag {tag}: {before_tag!r} → {after_tag!r}")
    old_rules = {_rule_identity(r): r for r in old.rules}
    new_rules = {_rule_identity(r): r for r in new.rules}
    for identity, rule in sorted(old_rules.items()):
        if identity not in new_rules:
            changes.append(f"- {rule.text()}")
    for identity, rule in sorted(new_rules.items()):
        before_rule = old_rules.get(identity)
        if before_rule is None:
            changes.append(f"+ {rule.text()}")
        elif before_rule.description != rule.description:
            changes.append(
                f"~ {rule.text()}: description {before_rule.description!r} → {rule.description!r}"
            )
    return changes


def json_diff(old: CanonicalGroup, new: CanonicalGroup) -> Any:
    """The jsondiff (explicit syntax) turning `old`'s canonical JSON into `new`'s."""
    before = json.loads(old.canonical_json())
    after = json.loads(new.canonical_json())
    return json.loads(jsondiff.diff(before, after, syntax="explicit", dump=True))
