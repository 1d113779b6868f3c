"""Each service's MongoDB role reaches only the collections it owns, writes through a
named `secmonkey.common` function, or reads, generated from the collection table. FerretDB
(here) has no authorization, so the commands are checked as data; on MongoDB
`secmonkey admin provision` runs them as they are."""

from __future__ import annotations

from dataclasses import replace

import pytest

from secmonkey.common.provision import mongo_roles
from secmonkey.common.storage.collections import (
    COLLECTIONS,
    Collection,
    Service,
    owned_by,
    read_by,
    written_through_common,
)

SERVICES: tuple[Service, ...] = ("collector", "auditor", "notifier", "api")
WRITES = {"insert", "update", "remove"}


@pytest.mark.parametrize("service", SERVICES)
def test_mongo_roles_cover_only_owned_collections(service: Service) -> None:
    granted = mongo_roles.privileges(service)
    writable = {name for name, actions in granted.items() if set(actions) & WRITES}
    assert writable == owned_by(service) | written_through_common(service)
    assert set(granted) == owned_by(service) | written_through_common(service) | read_by(service)


def test_a_notifier_cannot_touch_history_or_keys() -> None:
    """A stolen notifier credential can neither rewrite history nor mint an API key."""
    granted = mongo_roles.privileges("notifier")
    assert granted["revisions"] == ("find",)
    assert granted["issues"] == ("find",)
    for name in ("items", "api_keys", "accounts", "sweeps", "events"):
        assert name not in granted or not set(granted[name]) & WRITES


def test_exact_privileges_of_a_few_collections() -> None:
    assert mongo_roles.privileges("auditor")["revisions"] == ("find", "insert", "remove", "update")
    assert mongo_roles.privileges("auditor")["accounts"] == ("find",)
    assert mongo_roles.privileges("api")["api_keys"] == ("find", "insert", "remove", "update")
    # justify, withdraw; a rejected change review opens an issue
    assert mongo_roles.privileges("api")["issues"] == ("find", "insert", "update")
    assert mongo_roles.privileges("api")["items"] == ("find", "update")  # recount, reads
    assert mongo_roles.privileges("collector")["accounts"] == ("find", "insert", "update")
    assert mongo_roles.privileges("notifier")["consumer_reports"] == (
        "find",
        "insert",
        "remove",
        "update",
    )
    assert "api_keys" not in mongo_roles.privileges("collector")
    assert "subscriptions" not in mongo_roles.privileges("auditor")


def test_every_collection_is_in_its_owners_role() -> None:
    for name, collection in COLLECTIONS.items():
        assert name in mongo_roles.privileges(collection.owner), name


def test_the_api_may_only_append_to_the_audit_log() -> None:
    """`audit_log` (the API's, append-only): insert and read, never update or remove, by
    anyone; today's table when it declares it, else a table that does."""
    table = dict(COLLECTIONS)
    table.setdefault("audit_log", Collection("api", readers=()))
    table["audit_log"] = replace(table["audit_log"], shared_writes=(("auditor", "x.append"),))
    assert mongo_roles.privileges("api", table)["audit_log"] == ("find", "insert")
    assert mongo_roles.privileges("auditor", table)["audit_log"] == ("find", "insert")


def test_role_and_user_commands() -> None:
    command = mongo_roles.role_command("notifier", "secmonkey")
    assert command["createRole"] == "secmonkey_notifier"
    assert command["roles"] == []
    resources = {p["resource"]["collection"]: p["actions"] for p in command["privileges"]}
    assert resources["subscriptions"] == ["find"]
    assert resources["deliveries"] == ["find", "insert", "remove", "update"]
    assert resources[""] == ["listCollections", "listIndexes"]  # the check at start
    assert all(p["resource"]["db"] == "secmonkey" for p in command["privileges"])
    assert not any(
        set(p["actions"]) & {"createIndex", "dropCollection", "dropDatabase", "createCollection"}
        for p in command["privileges"]
    )
    user = mongo_roles.user_command("notifier", "secmonkey", "pw", user="n", update=True)
    assert user == {
        "updateUser": "n",
        "pwd": "pw",
        "roles": [{"role": "secmonkey_notifier", "db": "secmonkey"}],
    }
    assert [c["createRole"] for c in mongo_roles.all_role_commands("db")] == [
        "secmonkey_collector",
        "secmonkey_auditor",
        "secmonkey_notifier",
        "secmonkey_api",
    ]


def test_every_shared_write_has_its_actions() -> None:
    for collection in COLLECTIONS.values():
        for _, function in collection.shared_writes:
            assert function in mongo_roles.SHARED_WRITE_ACTIONS, function
