"""The blind hot path: a roster entry decides a touch only when it says exactly what the
observation would keep."""

from __future__ import annotations

from secmonkey.auditor.decide import Touch, audit_key, exposure_key, known_state, observations
from secmonkey.auditor.known_states import blind_touch
from secmonkey.common.place_rosters import UNKNOWN
from tests.integration.auditor.kit import ATTACHED, at, batch, ingress, key, snap
from tests.unit.auditor.test_decide import inputs

SSH = ingress(22, "0.0.0.0/0")


def entry_for(group_snapshot, seq: int = 3, digest: str = "d1") -> str:  # type: ignore[no-untyped-def]
    k = audit_key(group_snapshot.fingerprint, exposure_key(group_snapshot.attachments), digest)
    return known_state(seq, k, group_snapshot.attachments.model_dump(mode="json"))


def test_an_exact_entry_touches_the_group_at_its_revision() -> None:
    group = snap("sg-a", SSH)
    (source,) = observations(batch(60, group))
    touch = blind_touch(source, entry_for(group), inputs())
    assert isinstance(touch, Touch)
    assert (touch.key, touch.observed_at, touch.seq) == (key("sg-a"), at(60), 3)
    assert (touch.attachments, touch.audit_key) == (None, None)  # nothing but last_seen moves


def test_anything_the_entry_does_not_say_is_decided_on_the_item() -> None:
    group = snap("sg-a", SSH)
    (source,) = observations(batch(60, group))
    changed = snap("sg-a")  # another configuration
    moved = snap("sg-a", SSH, attachments=ATTACHED.model_copy(update={"instance_ids": ["i-9"]}))
    assert blind_touch(source, UNKNOWN, inputs()) is None
    assert blind_touch(source, None, inputs()) is None
    assert blind_touch(source, entry_for(changed), inputs()) is None
    assert blind_touch(source, entry_for(moved), inputs()) is None
    assert blind_touch(source, entry_for(group, digest="other rules"), inputs()) is None
