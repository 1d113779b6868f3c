"""Messages are validated on receipt: a malformed one must be refused, never half-read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import (
    Event,
    SnapshotBatch,
    SweepCompleted,
    SweepRequest,
    parse_message,
    parse_snapshot_message,
)


def batch() -> SnapshotBatch:
    group = CanonicalGroup(group_id="sg-1", name="web", owner_id="111111111111", vpc_id="vpc-1")
    return SnapshotBatch(
        sweep_id="s1",
        account_id="111111111111",
        region="us-east-1",
        observed_at=datetime.now(UTC),
        groups=[GroupSnapshot.of(group)],
    )


def test_snapshot_messages_round_trip_by_kind() -> None:
    b = batch()
    assert parse_snapshot_message(b.model_dump_json().encode()) == b
    done = SweepCompleted(
        sweep_id="s1",
        account_id="111111111111",
        region="eu-west-1",
        observed_at=datetime.now(UTC),
        group_ids=["sg-1"],
        complete=True,
    )
    assert parse_snapshot_message(done.model_dump_json().encode()) == done


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(account_id="12345"), "account_id"),
        (lambda d: d.update(region="mars"), "region"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d.update(kind="nonsense"), "kind"),
        (lambda d: d.pop("groups"), "groups"),
        (lambda d: d.update(unexpected=1), "unexpected"),
        (lambda d: d["groups"][0]["config"].pop("owner_id"), "owner_id"),
    ],
)
def test_malformed_snapshot_messages_are_refused(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(batch().model_dump_json())
    mutate(doc)
    with pytest.raises(InvalidInput, match=reason):
        parse_snapshot_message(json.dumps(doc).encode())


def test_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="malformed"):
        parse_snapshot_message(b"\xff not json")


def test_sweep_request_and_event_validate() -> None:
    req = SweepRequest(account_id="111111111111", regions=["us-east-1"])
    assert parse_message(SweepRequest, req.model_dump_json().encode()).sweep_id == req.sweep_id
    with pytest.raises(InvalidInput):
        parse_message(SweepRequest, b'{"account_id": "abc"}')
    with pytest.raises(InvalidInput, match="type"):
        parse_message(
            Event,
            json.dumps(
                {
                    "event_id": "e",
                    "type": "group.exploded",
                    "key": "k",
                    "account_id": "111111111111",
                    "region": "us-east-1",
                    "group_id": "sg-1",
                    "name": "n",
                    "at": "2026-01-01T00:00:00Z",
                }
            ).encode(),
        )
