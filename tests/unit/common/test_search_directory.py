"""Range-directory additions: what is already there is not written again (so the mutex
that guards additions on FerretDB is seldom taken)."""

from __future__ import annotations

from secmonkey.common.search_index.directory import merged, missing
from secmonkey.common.storage import Update


def test_an_addition_already_in_the_directory_is_not_missing() -> None:
    update = Update("r1", {"$addToSet": {"places": {"$each": ["aws:1:eu-west-1"]}}})
    assert missing(None, update)
    assert missing({"places": ["aws:2:eu-west-1"]}, update)
    assert not missing({"places": ["aws:2:eu-west-1", "aws:1:eu-west-1"]}, update)


def test_every_field_of_an_addition_counts() -> None:
    update = Update("lengths", {"$addToSet": {"in:4": {"$each": [8, 24]}, "in:6": {"$each": [64]}}})
    assert missing({"in:4": [8, 24]}, update)
    assert not missing({"in:4": [8, 16, 24], "in:6": [64]}, update)


def test_additions_to_one_document_are_merged_into_one() -> None:
    updates = [
        Update("r1", {"$addToSet": {"places": {"$each": ["b"]}}}),
        Update("r1", {"$addToSet": {"places": {"$each": ["a", "b"]}}}),
        Update("lengths", {"$addToSet": {"in:4": {"$each": [8]}}}),
    ]
    assert merged(updates) == [
        Update("lengths", {"$addToSet": {"in:4": {"$each": [8]}}}),
        Update("r1", {"$addToSet": {"places": {"$each": ["a", "b"]}}}),
    ]
