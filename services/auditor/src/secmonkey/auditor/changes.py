"""What changed between two versions of a group: the jsondiff diff and a readable list."""

from __future__ import annotations

import json
from typing import Any

import jsondiff

from secmonkey.common.canonical import CanonicalGroup, Rule

RuleIdentity = tuple[str, str, int | None, int | None, str, str, str | None]


def config_doc(config: CanonicalGroup) -> dict[str, Any]:
    """The form of a configuration stored in items and revisions (tags as pairs)."""
    return config.storage_doc()


def diff(previous: CanonicalGroup, current: CanonicalGroup) -> str:
    """jsondiff (explicit syntax) from `previous` to `current`, as JSON text.

    Stored as text because MongoDB field names cannot start with `$`.
    """
    result = jsondiff.diff(
        previous.model_dump(mode="json"),
        current.model_dump(mode="json"),
        syntax="explicit",
        dump=True,
        marshal=True,
    )
    return str(result)


def _identity(rule: Rule) -> RuleIdentity:
    return (
        rule.direction,
        rule.protocol,
        rule.from_port,
        rule.to_port,
        rule.source_kind,
        rule.source,
        rule.source_account,
    )


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def change_list(previous: CanonicalGroup | None, current: CanonicalGroup) -> list[str]:
    """Human-readable changes: `+ ingress tcp/22 from 0.0.0.0/0`, `tag Owner: a → b`, …

    With no previous version every rule is listed as added.
    """
    lines: list[str] = []
    before = {_identity(r): r for r in (previous.rules if previous else [])}
    after = {_identity(r): r for r in current.rules}
    for identity, rule in after.items():
        old = before.get(identity)
        if old is None:
            lines.append(f"+ {rule.text()}")
        elif old.description != rule.description:
            lines.append(
                f"~ {rule.text()} description: {_quote(old.description)} → {_quote(rule.description)}"
            )
    lines.extend(f"- {rule.text()}" for identity, rule in before.items() if identity not in after)
    if previous is None:
        return lines
    for field in ("name", "description", "vpc_id"):
        old_value, new_value = getattr(previous, field), getattr(current, field)
        if old_value != new_value:
            lines.append(f"{field}: {old_value} → {new_value}")
    for tag in sorted(set(previous.tags) | set(current.tags)):
        old_tag, new_tag = previous.tags.get(tag), current.tags.get(tag)
        if old_tag == new_tag:
            continue
        if old_tag is None:
            lines.append(f"+ tag {tag}: {new_tag}")
        elif new_tag is None:
            lines.append(f"- tag {tag}: {old_tag}")
        else:
            lines.append(f"tag {tag}: {old_tag} → {new_tag}")
    return lines
