"""The hash chains: a tampered record is named, the canonical form is stable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from secmonkey.common.chain import (
    ZERO_HASH,
    canonical_bytes,
    check_reviews,
    check_revisions,
    genesis_hash,
    genesis_record,
    heads_root,
    revision_hash,
)
from secmonkey.common.chain_verify import verify_records

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def chain(count: int, key: str = "aws:111111111111:eu-west-1:sg-a") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    prev = ZERO_HASH
    for seq in range(1, count + 1):
        rev = {
            "_id": f"{key}:{seq}",
            "key": key,
            "seq": seq,
            "config": {"group_id": "sg-a", "rules": [{"port": seq}]},
            "observed_at": T0 + timedelta(minutes=seq),
            "prev_hash": prev,
        }
        prev = revision_hash(rev)
        out.append(rev)
    return out


def test_canonical_form_sorts_keys_and_writes_utc_milliseconds() -> None:
    paris = timezone(timedelta(hours=1))
    a = canonical_bytes({"b": 1, "a": T0.astimezone(paris)}, ("a", "b", "c"))
    assert a == b'{"a":"2026-03-01T12:00:00.123Z","b":1,"c":null}'
    naive = canonical_bytes({"a": T0.replace(tzinfo=None, microsecond=123000)}, ("a",))
    assert naive == b'{"a":"2026-03-01T12:00:00.123Z"}'


def test_an_intact_chain_passes_and_an_edit_names_the_next_record() -> None:
    revs = chain(3)
    breaks, head, seq = check_revisions(revs[0]["key"], revs, None)
    assert breaks == [] and seq == 3 and head == revision_hash(revs[2])
    revs[0]["config"]["rules"][0]["port"] = 22
    breaks, _, _ = check_revisions(revs[0]["key"], revs, None)
    assert [(b.record, b.reason) for b in breaks] == [
        (revs[1]["_id"], "prev_hash does not match the revision before")
    ]


def test_genesis_seals_history_from_before_the_chain() -> None:
    key = "aws:111111111111:eu-west-1:sg-g"
    legacy = [{"_id": f"{key}:{n}", "key": key, "seq": n, "config": {"n": n}} for n in (1, 2)]
    genesis = genesis_record(key, legacy)
    new = {
        "_id": f"{key}:3",
        "key": key,
        "seq": 3,
        "config": {},
        "prev_hash": genesis_hash(genesis),
    }
    assert check_revisions(key, [*legacy, new], genesis)[0] == []
    legacy[0]["config"] = {"n": 99}
    breaks = check_revisions(key, [*legacy, new], genesis)[0]
    assert [b.record for b in breaks] == [f"{key}:1"] and "genesis" in breaks[0].reason


def test_unchained_revision_after_the_chain_started_is_a_break() -> None:
    revs = chain(2)
    revs[1].pop("prev_hash")
    breaks = check_revisions(revs[0]["key"], revs, None)[0]
    assert breaks[0].reason == "not chained (no prev_hash)"


def test_review_chain_positions_and_links() -> None:
    from secmonkey.common.chain import review_hash

    first = {"_id": "k:1", "key": "k", "n": 1, "status": "approved", "prev_hash": ZERO_HASH}
    second = {
        "_id": "k:2",
        "key": "k",
        "n": 2,
        "status": "rejected",
        "prev_hash": review_hash(first),
    }
    assert check_reviews("k", [first, second])[0] == []
    first["status"] = "rejected"
    assert [b.record for b in check_reviews("k", [first, second])[0]] == ["k:2"]


def test_an_anchor_catches_an_edit_of_the_newest_revision() -> None:
    revs = chain(2)
    key = revs[0]["key"]
    heads = [("revisions", key, 2, revision_hash(revs[1]))]
    anchor = {"_id": "a1", "root": heads_root(heads), "heads": [list(h) for h in heads]}
    assert verify_records(revs, [], [], [anchor]).ok
    revs[1]["config"] = {"group_id": "sg-a", "rules": []}
    result = verify_records(revs, [], [], [anchor])
    assert not result.ok
    assert [b.record for b in result.breaks] == [f"{key}:2"]
    assert "anchored in a1" in result.breaks[0].reason


def test_breaks_outside_the_period_are_not_reported() -> None:
    revs = chain(3)
    revs[0]["config"] = {}
    assert not verify_records(revs, [], [], []).ok
    later = T0 + timedelta(minutes=10)
    assert verify_records(revs, [], [], [], start=later).ok
