"""What changed between two versions of a group: the readable change list and the jsondiff.

The auditor stores both with every revision (`changes`, `diff`); the API computes them
between any two revisions. One implementation, so the diff of two adjacent revisions
reads exactly like what the auditor stored with the later one.
"""

from __future__ import annotations

import json
from typing import Any

import jsondiff

from secmonkey.common.canonical import CanonicalGroup


def config_doc(config: CanonicalGroup) -> dict[str, Any]:
    """The form of a configuration stored in items and revisions (tags as pairs)."""
    return config.storage_doc()


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def change_list(previous: CanonicalGroup | None, current: CanonicalGroup) -> list[str]:
    """Human-readable changes: `+ ingress tcp/22 from 0.0.0.0/0`, `tag Owner: a → b`, …

    Added rules (and changed descriptions) first, then removed rules, then properties and
    tags. With no previous version every rule is listed as added.
    """
    lines: list[str] = []
    before = {r.identity(): r for r in (previous.rules if previous else [])}
    after = {r.identity(): r for r in current.rules}
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


def diff_text(previous: CanonicalGroup, current: CanonicalGroup) -> str:
    """jsondiff (explicit syntax) from `previous` to `current`, as JSON text.

    Stored as text in revisions because MongoDB field names cannot start with `$`.
    """
    result = jsondiff.diff(
        previous.model_dump(mode="json"),
        current.model_dump(mode="json"),
        syntax="explicit",
        dump=True,
        marshal=True,
    )
    return str(result)


def json_diff(old: CanonicalGroup, new: CanonicalGroup) -> Any:
    """The jsondiff of `diff_text`, parsed: what the API shows, equal to a stored revision's."""
    return json.loads(diff_text(old, new))
