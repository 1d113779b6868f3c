"""Per-service MongoDB roles and users, generated from the collection table.

Each service gets one role in the secmonkey database: on a collection it owns, `find`,
`insert`, `update`, `remove`; on one it writes through a named `secmonkey.common`
function, what that function needs; on one it reads, `find` only. Every role may list
collections and indexes (the check at start), never create or drop them: that is
`secmonkey admin provision`'s, under admin credentials. A collection declared append-only
(`APPEND_ONLY`, the API's `audit_log`) gives its owner `find` and `insert` only.

FerretDB (tests, `make run`) has no authorization; on MongoDB these commands run as they
are (`createRole`/`updateRole`, `createUser`/`updateUser`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secmonkey.common.storage.collections import COLLECTIONS, Collection, Service

SERVICES: tuple[Service, ...] = ("collector", "auditor", "notifier", "api")
OWNER_ACTIONS = ("find", "insert", "update", "remove")
READ_ACTIONS = ("find",)
APPEND_ACTIONS = ("find", "insert")
# Written only by appending, never changed or removed (the audit log of admin actions).
APPEND_ONLY = frozenset({"audit_log"})
# What each shared `secmonkey.common` write needs (an upsert is insert + update).
SHARED_WRITE_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "accounts.upsert_accounts": ("find", "insert", "update"),
    "issue_counters.recount": ("find", "update"),
    "justifications.justify": ("find", "update"),
    "justifications.withdraw": ("find", "update"),
    "event_feed.append": ("find", "insert", "update"),
    "delivery_schedule.schedule": ("find", "insert", "update"),
    "sweep_requests.request_sweep": ("find", "insert", "update"),
    "consumer_reports.report": ("find", "insert", "update"),
    "consumer_reports.withdraw": ("find", "remove"),
    # a review decision updates the review, appends to its chain and, rejected, opens an
    # `unauthorized-change` issue
    "change_reviews.decide": ("find", "insert", "update"),
    "chain_anchor.anchor": ("find", "insert"),
    "issue_counters.mark_summary": ("find", "insert"),
    "place_rosters.log_issue": ("find", "insert"),
    "discovery_requests.request_discovery": ("find", "insert"),
}
DEFAULT_SHARED_ACTIONS = ("find", "insert", "update")
DATABASE_ACTIONS = ("listCollections", "listIndexes")


def role_name(service: Service) -> str:
    return f"secmonkey_{service}"


def user_name(service: Service) -> str:
    return f"secmonkey-{service}"


def privileges(
    service: Service, collections: Mapping[str, Collection] = COLLECTIONS
) -> dict[str, tuple[str, ...]]:
    """Collection -> the actions `service` may take on it (sorted); absent: none."""
    out: dict[str, set[str]] = {}
    for name, collection in collections.items():
        actions: set[str] = set()
        if collection.owner == service:
            actions |= set(APPEND_ACTIONS if name in APPEND_ONLY else OWNER_ACTIONS)
        for writer, function in collection.shared_writes:
            if writer == service:
                actions |= set(SHARED_WRITE_ACTIONS.get(function, DEFAULT_SHARED_ACTIONS))
        if service in collection.readers:
            actions |= set(READ_ACTIONS)
        if name in APPEND_ONLY:
            actions &= set(APPEND_ACTIONS)  # nobody changes or removes an appended entry
        if actions:
            out[name] = actions
    return {name: tuple(sorted(actions)) for name, actions in sorted(out.items())}


def role_command(
    service: Service,
    database: str,
    collections: Mapping[str, Collection] = COLLECTIONS,
    *,
    update: bool = False,
) -> dict[str, Any]:
    """The `createRole` (or `updateRole`) command of `service`'s role in `database`."""
    granted: list[dict[str, Any]] = [
        {"resource": {"db": database, "collection": name}, "actions": list(actions)}
        for name, actions in privileges(service, collections).items()
    ]
    granted.append(
        {"resource": {"db": database, "collection": ""}, "actions": list(DATABASE_ACTIONS)}
    )
    verb = "updateRole" if update else "createRole"
    return {verb: role_name(service), "privileges": granted, "roles": []}


def user_command(
    service: Service, database: str, password: str, *, user: str | None = None, update: bool = False
) -> dict[str, Any]:
    """The `createUser` (or `updateUser`) command: `service`'s user holds its role only."""
    verb = "updateUser" if update else "createUser"
    return {
        verb: user or user_name(service),
        "pwd": password,
        "roles": [{"role": role_name(service), "db": database}],
    }


def all_role_commands(
    database: str, collections: Mapping[str, Collection] = COLLECTIONS
) -> list[dict[str, Any]]:
    return [role_command(s, database, collections) for s in SERVICES]
