"""Messages are validated on receipt: a malformed one must be refused, never half-read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import (
    KNOWN_EVENT_TYPES,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    SYSTEM_EVENT_TYPES,
    Event,
    EventType,
    SnapshotBatch,
    SweepCompleted,
    SweepRequest,
    SystemRef,
    parse_message,
    parse_snapshot_message,
)
from secmonkey.common.severity import Severity


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


# Schema versions: a rolling upgrade must dead-letter nothing -----------------------------


def group_event(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "event_id": "e",
        "type": "group.created",
        "key": "aws:111111111111:us-east-1:sg-1",
        "account_id": "111111111111",
        "region": "us-east-1",
        "group_id": "sg-1",
        "name": "web",
        "at": "2026-01-01T00:00:00Z",
    }
    doc.update(changes)
    return doc


def overdue_event(**changes: object) -> Event:
    fields: dict[str, Any] = {
        "event_id": "e2",
        "type": "system.sweep_overdue",
        "key": "system:sweep:111111111111",
        "account_id": "111111111111",
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "system": SystemRef(
            subject="account prod (111111111111)",
            detail="no complete sweep for 47 minutes",
            severity=Severity.HIGH,
        ),
    }
    fields.update(changes)
    return Event(**fields)


def test_this_build_reads_the_previous_its_own_and_the_next_version() -> None:
    assert {1, 2, 3} == READABLE_VERSIONS  # version 2 reads 1 and 3
    for version in sorted(READABLE_VERSIONS):
        body = json.dumps(group_event(schema_version=version)).encode()
        assert parse_message(Event, body).schema_version == version
    for version in (SCHEMA_VERSION - 2, SCHEMA_VERSION + 2, 99):
        with pytest.raises(InvalidInput, match="schema_version"):
            parse_message(Event, json.dumps(group_event(schema_version=version)).encode())


def test_what_version_1_could_say_still_goes_out_as_version_1_byte_for_byte() -> None:
    # Consumers of the previous build read only version 1: group and issue events,
    # snapshots and sweep requests keep their exact JSON.
    event = parse_message(Event, json.dumps(group_event()).encode())
    assert json.loads(event.model_dump_json()) == {
        "schema_version": 1,
        **group_event(),
        "at": "2026-01-01T00:00:00Z",
        "account_name": None,
        "vpc_id": None,
        "seq": None,
        "changes": [],
        "issue": None,
        "callers": [],
    }
    assert "system" not in event.model_dump()
    assert list(json.loads(event.model_dump_json())) == [
        "schema_version",
        "event_id",
        "type",
        "key",
        "account_id",
        "account_name",
        "region",
        "vpc_id",
        "group_id",
        "name",
        "at",
        "seq",
        "changes",
        "issue",
        "callers",
    ]
    assert batch().schema_version == 1
    assert SweepRequest(account_id="111111111111").schema_version == 1


def test_a_system_event_is_version_2_names_no_group_and_round_trips() -> None:
    event = overdue_event()
    assert event.schema_version == 2
    assert event.group_id is None and event.region is None
    assert event.severity == Severity.HIGH
    assert parse_message(Event, event.model_dump_json().encode()) == event
    with pytest.raises(ValueError, match="system"):
        overdue_event(system=None)


def test_group_and_issue_events_still_need_their_group() -> None:
    doc = group_event()
    del doc["group_id"]
    with pytest.raises(InvalidInput, match="group_id"):
        parse_message(Event, json.dumps(doc).encode())


def test_a_newer_producers_fields_and_types_are_read_not_refused() -> None:
    newer = group_event(
        schema_version=SCHEMA_VERSION + 1,
        type="change.reviewed",
        reviewer="alice",  # a field this build does not know
    )
    for key in ("account_id", "region", "group_id", "name"):
        del newer[key]
    event = parse_message(Event, json.dumps(newer).encode())
    assert event.type == "change.reviewed" and event.schema_version == SCHEMA_VERSION + 1
    # From a producer of this version, an unknown field is still a mistake.
    with pytest.raises(InvalidInput, match="reviewer"):
        parse_message(Event, json.dumps({**newer, "schema_version": SCHEMA_VERSION}).encode())


def test_the_reserved_families_are_valid_before_their_types_are_defined() -> None:
    for type_ in ("admin.key_created", "change.unauthorized"):
        event = Event(event_id="e", type=type_, key="k", at=datetime(2026, 1, 1, tzinfo=UTC))
        assert event.schema_version == 2
    with pytest.raises(ValueError, match="unknown event type"):
        Event(event_id="e", type="billing.due", key="k", at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_event_type_literal_lists_every_known_type() -> None:
    assert set(get_args(EventType)) == set(KNOWN_EVENT_TYPES)
    assert all(t.startswith("system.") for t in SYSTEM_EVENT_TYPES)


def test_snapshots_and_sweep_requests_of_the_neighbouring_versions_are_read() -> None:
    for version in sorted(READABLE_VERSIONS):
        doc = json.loads(batch().model_dump_json())
        doc["schema_version"] = version
        if version > SCHEMA_VERSION:
            doc["compression"] = "none"  # a field of the next version
        assert parse_snapshot_message(json.dumps(doc).encode()).schema_version == version
        request = {"account_id": "111111111111", "schema_version": version}
        assert parse_message(SweepRequest, json.dumps(request).encode()).account_id
