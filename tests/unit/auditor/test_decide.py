"""The pure decision, without any server: what the auditor does with each observation
decides whether history is right (a missed change is a silent firewall change; a spurious
one is noise in every channel)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secmonkey.auditor.decide import (
    AuditInputs,
    Deletion,
    Touch,
    Work,
    audit_key,
    decide,
    event_deletions,
    known_state,
    observations,
    sweep_deletions,
)
from secmonkey.auditor.rules.base import RuleContext
from secmonkey.auditor.rules.engine import Finding, evaluate, findings_digest, prepare
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot
from tests.integration.auditor.kit import ATTACHED, PUBLIC, at, batch, completed, ingress, key, snap

SSH = ingress(22, "0.0.0.0/0")
HTTPS = ingress(443, "10.0.0.0/8")
RULES = RulesConfig()


def inputs(digest: str = "d1") -> AuditInputs:
    def findings(
        k: str, config: CanonicalGroup, account: str, region: str, attached: Attachments
    ) -> list[Finding]:
        ctx = prepare(RULES, RuleContext(account_id=account, region=region, attachments=attached))
        return evaluate(k, config, ctx, RULES)

    return AuditInputs(digest, findings)


def stored(group: GroupSnapshot, seen: float, *, seq: int = 1, **extra: Any) -> dict[str, Any]:
    """An item as the auditor commits it, audited with `inputs()`."""
    found = inputs().evaluate(key(group.config.group_id), group.config, "1", "r", group.attachments)
    return {
        "_id": key(group.config.group_id),
        "seq": seq,
        "state": "active",
        "fingerprint": group.fingerprint,
        "config": group.config.storage_doc(),
        "attachments": group.attachments.model_dump(mode="json"),
        "last_seen": at(seen),
        "deleted_at": None,
        "account_id": "111111111111",
        "region": "eu-west-1",
        "audit_key": audit_key(group.fingerprint, group.attachments.exposure(), "d1"),
        "findings_digest": findings_digest(found),
        **extra,
    }


def observe(group: GroupSnapshot, seconds: float) -> Any:
    (only,) = observations(batch(seconds, group))
    return only


def test_a_group_never_seen_is_created_as_revision_one() -> None:
    decision = decide(observe(snap("sg-a", SSH), 0), None, inputs())
    assert isinstance(decision, Work)
    assert (decision.kind, decision.seq, decision.previous) == ("created", 1, None)
    assert decision.revision_id == f"{key('sg-a')}:1"


def test_a_new_configuration_is_the_next_revision() -> None:
    before = stored(snap("sg-a", HTTPS), 0, seq=3)
    decision = decide(observe(snap("sg-a", SSH, HTTPS), 60), before, inputs())
    assert isinstance(decision, Work)
    assert (decision.kind, decision.seq, decision.previous) == ("changed", 4, before)


def test_an_unchanged_group_only_moves_last_seen() -> None:
    group = snap("sg-a", SSH, attachments=ATTACHED)
    item = stored(group, 0, seq=2)
    decision = decide(observe(group, 60), item, inputs())
    assert decision == Touch(
        key("sg-a"),
        at(60),
        2,
        group.fingerprint,
        None,
        None,
        stored_key=item["audit_key"],
        known=known_state(2, item["audit_key"], item["attachments"]),
    )


def test_new_attachments_without_new_findings_are_recorded_on_the_hot_path() -> None:
    group = snap("sg-a", HTTPS, attachments=ATTACHED)
    moved = snap("sg-a", HTTPS, attachments=ATTACHED.model_copy(update={"instance_ids": ["i-2"]}))
    decision = decide(observe(moved, 60), stored(group, 0), inputs())
    assert isinstance(decision, Touch)
    assert decision.attachments == moved.attachments.model_dump(mode="json")
    assert decision.audit_key is None  # same exposure, same inputs: same audit key


def test_a_new_exposure_that_changes_findings_is_a_reaudit_without_revision() -> None:
    private = snap("sg-a", SSH, attachments=ATTACHED)
    public = snap("sg-a", SSH, attachments=PUBLIC)
    decision = decide(observe(public, 60), stored(private, 0, seq=2), inputs())
    assert isinstance(decision, Work)
    assert (decision.kind, decision.seq, decision.is_revision) == ("reaudit", 2, False)
    assert decision.findings and decision.marker == f"{key('sg-a')}:2@{at(60).isoformat()}"


def test_new_audit_inputs_with_the_same_findings_refresh_the_audit_key_only() -> None:
    group = snap("sg-a", HTTPS, attachments=ATTACHED)
    decision = decide(observe(group, 60), stored(group, 0), inputs(digest="d2"))
    assert isinstance(decision, Touch)
    assert decision.audit_key == audit_key(group.fingerprint, "private", "d2")


def test_replays_and_older_observations_leave_history_alone() -> None:
    group = snap("sg-a", SSH)
    state = stored(group, 60)
    assert decide(observe(group, 60), state, inputs()) is None  # the same message again
    assert decide(observe(snap("sg-a", HTTPS), 30), state, inputs()) is None  # older


def test_a_deleted_group_seen_again_is_restored_unless_the_sighting_is_older() -> None:
    gone = stored(snap("sg-a", SSH), 0, seq=2, state="deleted", deleted_at=at(100))
    assert decide(observe(snap("sg-a", SSH), 90), gone, inputs()) is None
    decision = decide(observe(snap("sg-a", SSH), 200), gone, inputs())
    assert isinstance(decision, Work)
    assert (decision.kind, decision.seq) == ("restored", 3)


def test_a_complete_sweep_deletes_what_it_missed_and_nobody_saw_since() -> None:
    active = [
        {"_id": key("sg-a"), "group_id": "sg-a", "last_seen": at(0)},
        {"_id": key("sg-b"), "group_id": "sg-b", "last_seen": at(0)},
        {"_id": key("sg-c"), "group_id": "sg-c", "last_seen": at(150)},  # seen by an event
    ]
    found = sweep_deletions(completed(200, ["sg-a"], started=100), active)
    assert [d.key for d in found] == [key("sg-b")]
    assert found[0].cutoff == at(100) and found[0].observed_at == at(200)
    assert sweep_deletions(completed(200, [], complete=False), active) == []


def test_a_deletion_becomes_the_next_revision_of_an_active_group_only() -> None:
    state = stored(snap("sg-b", SSH), 0, seq=5)
    gone = Deletion(key("sg-b"), at(200), at(100), "sweep-2")
    decision = decide(gone, state, inputs())
    assert isinstance(decision, Work)
    assert (decision.kind, decision.seq, decision.sweep_id) == ("deleted", 6, "sweep-2")
    assert decide(gone, None, inputs()) is None
    assert decide(gone, {**state, "state": "deleted"}, inputs()) is None
    seen_since = {**state, "last_seen": at(150)}
    assert decide(gone, seen_since, inputs()) is None


def test_an_event_describe_that_found_a_group_gone_deletes_it_unless_seen() -> None:
    message = batch(60, snap("sg-a", SSH)).model_copy(
        update={"missing_group_ids": ["sg-a", "sg-z", "sg-z"]}
    )
    found = event_deletions(message, {o.key for o in observations(message)})
    assert [d.key for d in found] == [key("sg-z")]
    assert found[0].cutoff == found[0].observed_at == at(60)


def test_observation_times_are_kept_at_millisecond_precision() -> None:
    message = batch(0, snap("sg-a", SSH)).model_copy(
        update={"observed_at": datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=at(0).tzinfo)}
    )
    (only,) = observations(message)
    assert only.observed_at.microsecond == 123000
