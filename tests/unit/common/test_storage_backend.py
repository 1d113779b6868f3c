"""Which backend answers decides which of secmonkey's queries are correct: refuse the unknown."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from secmonkey.common.errors import InvalidInput
from secmonkey.common.storage import Capabilities, filters
from secmonkey.common.storage.backend import classify
from secmonkey.common.storage.errors import is_duplicate_key, is_transient

MONGOD = {
    "version": "7.0.14",
    "gitVersion": "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188",
    "allocator": "tcmalloc",
    "storageEngines": ["devnull", "wiredTiger"],
    "ok": 1.0,
}


def test_mongodb_and_ferretdb_are_recognised() -> None:
    assert classify(MONGOD) == Capabilities.mongodb()
    assert classify({"version": "7.0.42", "ferretdbVersion": "v1.24.2", "ok": 1}) == (
        Capabilities.ferretdb()
    )
    # deploy/local/mongo-compat's FerretDB pushes `$in` on `_id` down and says so
    patched = {"ferretdbVersion": "v1.24.2", "ferretdbFeatures": {"idInPushdown": True}}
    found = classify(patched)
    assert found is not None and found.indexed_id_lists and not found.indexed_filters
    assert not Capabilities.ferretdb().indexed_id_lists and Capabilities.mongodb().indexed_id_lists


@pytest.mark.parametrize(
    "info",
    [
        {"version": "5.0.0", "versionArray": [5, 0, 0, 0], "ok": 1},  # DocumentDB-like
        {"version": "4.2.0", "gitVersion": "", "ok": 1},  # Cosmos DB-like
    ],
)
def test_an_imitation_of_mongodb_is_not_taken_for_it(info: dict[str, object]) -> None:
    assert classify(info) is None


def test_capabilities_can_be_set_explicitly() -> None:
    caps = Capabilities.parse("conditional_writes, indexed_filters")
    assert caps.conditional_writes and caps.indexed_filters
    assert not caps.element_match and not caps.large_bulk_writes
    assert Capabilities.parse("none") == Capabilities(False, False, False, False)
    with pytest.raises(ValueError, match="unknown storage capabilities"):
        Capabilities.parse("transactions")


def test_transient_errors_are_told_from_permanent_ones() -> None:
    assert is_transient(AutoReconnect("gone"))
    assert is_transient(OperationFailure("SQLITE_BUSY: database is locked"))
    assert is_transient(OperationFailure("database is locked (5)"))
    assert not is_transient(OperationFailure("unknown operator: $nope"))
    assert is_duplicate_key(DuplicateKeyError("E11000"))
    assert is_duplicate_key(OperationFailure("E11000", code=11000))
    assert not is_duplicate_key(OperationFailure("other", code=2))


def test_user_input_never_becomes_an_operator_document() -> None:
    assert filters.equals(account_id="1", region=None) == {"account_id": "1"}
    with pytest.raises(InvalidInput, match="account_id"):
        filters.equals(account_id={"$ne": None})
    with pytest.raises(InvalidInput):
        filters.one_of("group_id", ["sg-1", {"$gt": ""}])


def test_element_between_follows_the_capability() -> None:
    mongo = filters.element_between(Capabilities.mongodb(), "ranges", "lo", "a", "b")
    assert mongo == {"ranges": {"$elemMatch": {"lo": {"$gte": "a", "$lte": "b"}}}}
    ferret = filters.element_between(Capabilities.ferretdb(), "ranges", "lo", "a", "b")
    assert ferret == {"ranges.lo": {"$gte": "a", "$lte": "b"}}
