"""Writes as values, and the driver operations they become."""

from __future__ import annotations

import pytest

from secmonkey.common.storage import Delete, Replace, Update
from secmonkey.common.storage.ops import to_driver


def test_a_guard_applies_only_where_writes_are_conditional() -> None:
    update = Update("k", {"$set": {"a": 1}}, guard={"seq": 4})
    assert to_driver(update, True)._filter == {"_id": "k", "seq": 4}
    assert to_driver(update, False)._filter == {"_id": "k"}
    assert to_driver(Delete("k"), True)._filter == {"_id": "k"}


def test_a_replace_may_upsert_but_never_with_a_guard() -> None:
    op = to_driver(Replace("k", {"a": 1}, upsert=True), True)
    assert op._filter == {"_id": "k"} and op._upsert is True
    assert to_driver(Replace("k", {"a": 1}), True)._upsert is False
    with pytest.raises(ValueError, match="cannot upsert"):
        Replace("k", {"a": 1}, guard={"seq": 1}, upsert=True)
