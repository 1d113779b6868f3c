"""Posting entries and edits: what the auditor files is exactly what a search returns."""

from __future__ import annotations

from typing import Any

from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import parse_network
from secmonkey.common.search_index.edits import delta_writes, group_id_writes
from secmonkey.common.search_index.format import (
    Entry,
    GroupIdEdit,
    entry_position,
    lines_of,
    posting_id,
    postings_of,
    range_id,
    tombstone,
)

PLACE = "aws:111111111111:eu-west-1"
KEY = f"{PLACE}:sg-0abc"


def group(*rules: Rule, name: str = "web|prod 100%") -> CanonicalGroup:
    return CanonicalGroup(
        group_id="sg-0abc",
        name=name,
        vpc_id="vpc-1",
        owner_id="111111111111",
        rules=list(rules),
    ).normalised()


SSH = Rule(
    direction="ingress",
    protocol="tcp",
    from_port=22,
    to_port=22,
    source_kind="cidr4",
    source="10.0.0.0/8",
    description="a|b%c\nd",
)
V6 = Rule(direction="egress", protocol="-1", source_kind="cidr6", source="::/0")
REF = Rule(direction="ingress", protocol="tcp", source_kind="group", source="sg-1")


def test_entries_round_trip_whatever_the_names_and_descriptions_hold() -> None:
    for posting in postings_of(KEY, group(SSH, V6, REF)):
        line = posting.entry.encode(7)
        assert "\n" not in line
        back = Entry.decode(line, posting.direction, "aws:111111111111:eu-west-1")
        assert back == posting.entry
        assert entry_position(line) == ("sg-0abc", posting.entry.index)


def test_only_cidr_rules_are_filed_each_under_its_range() -> None:
    filed = postings_of(KEY, group(SSH, V6, REF))
    assert {p.range_id for p in filed} == {
        range_id("ingress", parse_network("10.0.0.0/8")),
        range_id("egress", parse_network("::/0")),
    }


def edits(old: CanonicalGroup | None, new: CanonicalGroup | None, seq: int, key: str = KEY) -> Any:
    writes = delta_writes(
        postings_of(key, old) if old else [], postings_of(key, new) if new else [], seq
    )
    return {doc_id: edit for (_, doc_id), edit in writes.edits.items()}


def rules_in(doc: dict[str, Any]) -> list[str]:
    return [line for line in lines_of(doc) if entry_position(line)[1] >= 0]


SSH_DOC = posting_id(range_id("ingress", parse_network("10.0.0.0/8")), PLACE)


def test_an_edit_is_idempotent_and_keeps_lines_sorted() -> None:
    doc = edits(None, group(SSH), 1)[SSH_DOC].apply(None)
    assert edits(None, group(SSH), 1)[SSH_DOC].apply(doc) == doc  # a replay
    other = edits(None, group(SSH), 1, key=f"{PLACE}:sg-0000")[SSH_DOC].apply(doc)
    assert [entry_position(x)[0] for x in rules_in(other)] == ["sg-0000", "sg-0abc"]
    gone = edits(group(SSH), None, 2)[SSH_DOC].apply(doc)
    assert rules_in(gone) == [] and lines_of(gone) == [tombstone("sg-0abc", 2)]
    assert lines_of(None) == []


def test_a_late_edit_of_an_older_revision_changes_nothing() -> None:
    """Revision 2 closed SSH; revision 1's edit (a stalled writer, a replay) arrives after."""
    closed = edits(group(SSH), group(V6), 2)[SSH_DOC].apply(None)
    assert edits(None, group(SSH), 1)[SSH_DOC].apply(closed) == closed
    reopened = edits(group(V6), group(SSH), 3)[SSH_DOC].apply(closed)
    assert len(rules_in(reopened)) == 1
    assert edits(group(SSH), group(V6), 2)[SSH_DOC].apply(reopened) == reopened


def test_a_changed_rule_replaces_its_line() -> None:
    narrower = SSH.model_copy(update={"to_port": 23})
    before = edits(None, group(SSH), 1)[SSH_DOC].apply(None)
    after = edits(group(SSH), group(narrower), 2)[SSH_DOC].apply(before)
    [line] = rules_in(after)
    assert Entry.decode(line, "ingress", PLACE).rule.to_port == 23


def test_group_ids_keep_the_latest_revision_of_each_key() -> None:
    def about(seq: int, state: str) -> dict[str, Any]:
        return {
            "_id": KEY,
            "group_id": "sg-0abc",
            "name": "web",
            "account_id": "1",
            "region": "eu-west-1",
            "state": state,
            "seq": seq,
        }

    def edit(seq: int, state: str) -> GroupIdEdit:
        [e] = group_id_writes([about(seq, state)]).edits.values()
        assert isinstance(e, GroupIdEdit)
        return e

    deleted = edit(2, "deleted").apply(None)
    assert edit(1, "active").apply(deleted) == deleted
    assert edit(3, "active").apply(deleted)["g"][KEY]["state"] == "active"
