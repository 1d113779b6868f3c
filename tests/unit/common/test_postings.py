"""Posting entries and edits: what the auditor files is exactly what a search returns."""

from __future__ import annotations

from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.cidr import parse_network
from secmonkey.common.postings import (
    Entry,
    PostingEdit,
    delta_writes,
    entry_position,
    lines_of,
    postings_of,
    range_id,
)

KEY = "aws:111111111111:eu-west-1:sg-0abc"


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
        line = posting.entry.encode()
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


def test_an_edit_is_idempotent_and_keeps_lines_sorted() -> None:
    first = delta_writes([], postings_of(KEY, group(SSH)))
    [(doc_id, edit)] = first.edits.items()
    text = edit.apply(None)
    assert edit.apply({"e": text}) == text  # a replay
    other = postings_of("aws:111111111111:eu-west-1:sg-0000", group(SSH))
    more = delta_writes([], other).edits[doc_id]
    lines = lines_of({"e": more.apply({"e": text})})
    assert [entry_position(x)[0] for x in lines] == ["sg-0000", "sg-0abc"]
    gone = delta_writes(postings_of(KEY, group(SSH)), []).edits[doc_id]
    assert gone.apply({"e": text}) == ""
    assert lines_of({"e": ""}) == [] and lines_of(None) == []


def test_a_changed_rule_replaces_its_line() -> None:
    narrower = SSH.model_copy(update={"to_port": 23})
    edit = delta_writes(postings_of(KEY, group(SSH)), postings_of(KEY, group(narrower)))
    [(doc_id, change)] = edit.edits.items()
    before = delta_writes([], postings_of(KEY, group(SSH))).edits[doc_id].apply(None)
    [line] = lines_of({"e": change.apply({"e": before})})
    assert Entry.decode(line, "ingress", "aws:111111111111:eu-west-1").rule.to_port == 23
    assert isinstance(PostingEdit().apply(None), str)
