"""Shaping query results for pages: side-by-side rule diffs and changed properties."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from secmonkey.api.schemas.groups import RuleView
from secmonkey.common.canonical import CanonicalGroup

RowState = Literal["same", "added", "removed", "changed"]


@dataclass(frozen=True)
class DiffRow:
    """One rule in a side-by-side diff: on the left (old), the right (new), or both."""

    old: RuleView | None
    new: RuleView | None
    state: RowState


@dataclass(frozen=True)
class PropertyChange:
    name: str
    old: str
    new: str


def rule_rows(old: CanonicalGroup, new: CanonicalGroup) -> list[DiffRow]:
    """Every rule of either version, matched by identity (a changed description is a change)."""
    before = {r.identity(): (n, r) for n, r in enumerate(old.rules)}
    after = {r.identity(): (n, r) for n, r in enumerate(new.rules)}
    rows: list[tuple[tuple[Any, ...], DiffRow]] = []
    for identity in set(before) | set(after):
        left = RuleView.of(*before[identity]) if identity in before else None
        right = RuleView.of(*after[identity]) if identity in after else None
        if left is None:
            state: RowState = "added"
        elif right is None:
            state = "removed"
        elif left.description != right.description:
            state = "changed"
        else:
            state = "same"
        direction = 0 if identity[0] == "ingress" else 1
        rows.append(((direction, state == "same", identity), DiffRow(left, right, state)))
    rows.sort(key=lambda pair: pair[0])
    return [row for _, row in rows]


def property_changes(old: CanonicalGroup, new: CanonicalGroup) -> list[PropertyChange]:
    changes = [
        PropertyChange(field, str(getattr(old, field) or ""), str(getattr(new, field) or ""))
        for field in ("name", "description", "vpc_id", "owner_id")
        if getattr(old, field) != getattr(new, field)
    ]
    for tag in sorted(set(old.tags) | set(new.tags)):
        if old.tags.get(tag) != new.tags.get(tag):
            changes.append(
                PropertyChange(f"tag {tag}", old.tags.get(tag, "—"), new.tags.get(tag, "—"))
            )
    return changes
