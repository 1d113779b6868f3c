"""Roles of people signed in by single sign-on: mapped from their groups.

The role names are `secmonkey.common.documents.Role`; `ROLE_RANK` orders the ones that
include each other (viewer < auditor < admin). A role outside that order (one allowed a
single thing) is mapped like any other: listed in `Role` and named in the group map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, get_args

from secmonkey.common.documents import ROLE_RANK, Role

ROLES: frozenset[str] = frozenset(get_args(Role))


def parse_role_map(mapping: Any) -> dict[str, Role]:
    """`{"group": "role"}` checked: every value a known role."""
    if not isinstance(mapping, dict):
        raise ValueError("SECMONKEY_OIDC_ROLE_MAP must be a JSON object of group → role")
    unknown = {str(v) for v in mapping.values() if v not in ROLES}
    if unknown:
        raise ValueError(
            f"SECMONKEY_OIDC_ROLE_MAP: unknown roles {sorted(unknown)} (known: {sorted(ROLES)})"
        )
    return {str(group): role for group, role in mapping.items()}


def role_for_groups(groups: Iterable[str], mapping: Mapping[str, Role]) -> Role | None:
    """The role of a member of `groups`: the highest ranked one any group maps to (a role
    outside the rank order counts below viewer); None when no group is mapped."""
    roles = [mapping[g] for g in groups if g in mapping]
    if not roles:
        return None
    return max(roles, key=lambda role: ROLE_RANK.get(role, -1))
