"""What differs between two versions of a group: a readable change list and the jsondiff."""

from __future__ import annotations

import json
from typing import Any

import jsondiff

from secmonkey.common.canonical import CanonicalGroup, Rule


def _rule_identity(rule: Rule) -> tuple[Any, ...]:
    """A rule without its description: a changed description is a change to the same rule."""
    return rule.sort_key()[:-1]


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def change_list(old: CanonicalGroup, new: CanonicalGroup) -> list[str]:
    """One line per rule, property or tag that differs, in the auditor's wording and order.

    Added rules (and changed descriptions) first, then removed rules, then properties and
    tags, so that the diff of two adjacent revisions reads exactly like the `changes` the
    auditor stored with the later one.
    """
    lines: list[str] = []
    before = {_rule_identity(r): r for r in old.rules}
    after = {_rule_identity(r): r for r in new.rules}
    for identity, rule in after.items():
        previous = before.get(identity)
        if previous is None:
            lines.append(f"+ {rule.text()}")
        elif previous.description != rule.description:
            lines.append(
                f"~ {rule.text()} description: "
                f"{_quote(previous.description)} → {_quote(rule.description)}"
            )
    lines.extend(f"- {rule.text()}" for identity, rule in before.items() if identity not in after)
    for field in ("name", "description", "vpc_id"):
        before_value, after_value = getattr(old, field), getattr(new, field)
        if before_value != after_value:
            lines.append(f"{field}: {before_value} → {after_value}")
    for tag in sorted(set(old.tags) | set(new.tags)):
        before_tag, after_tag = old.tags.get(tag), new.tags.get(tag)
        if before_tag == after_tag:
            continue
        if before_tag is None:
            lines.append(f"+ tag {tag}: {after_tag}")
        elif after_tag is None:
            lines.append(f"- tag {tag}: {before_tag}")
        else:
            lines.append(f"tag {tag}: {before_tag} → {after_tag}")
    return lines


def json_diff(old: CanonicalGroup, new: CanonicalGroup) -> Any:
    """The jsondiff (explicit syntax) turning `old`'s canonical JSON into `new`'s."""
    before = json.loads(old.canonical_json())
    after = json.loads(new.canonical_json())
    return json.loads(jsondiff.diff(before, after, syntax="explicit", dump=True))
