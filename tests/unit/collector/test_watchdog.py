"""The watchdog's episodes: each condition raised once when it begins and resolved once when
it ends, however many checks see it; otherwise operators get an alert every minute, or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from secmonkey.collector.settings import Settings
from secmonkey.collector.watchdog.episodes import (
    Observation,
    State,
    Transition,
    decide,
    episode_event,
)
from secmonkey.common.severity import Severity

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def overdue(bad: bool, **kw: object) -> Observation:
    fields: dict[str, object] = {
        "key": "system:sweep:111111111111",
        "condition": "system.sweep_overdue",
        "subject": "account prod (111111111111)",
        "detail": "last complete sweep at 2026-03-01 11:00 UTC",
        "severity": Severity.HIGH,
        "bad": bad,
        "account_id": "111111111111",
        "account_name": "prod",
    }
    fields.update(kw)
    return Observation(**fields)  # type: ignore[arg-type]


def run(
    observations: list[tuple[float, Observation]],
) -> tuple[State | None, list[tuple[float, Transition, str]]]:
    """Feed (seconds after T0, observation) to `decide` in order; the transitions made."""
    state: State | None = None
    made = []
    for seconds, obs in observations:
        now = T0 + timedelta(seconds=seconds)
        old = state
        state, transition = decide(state, obs, now)
        if transition is not None:
            made.append((seconds, transition, episode_event(old, state, obs, transition, now).type))
    return state, made


def test_an_overdue_account_is_raised_once_and_resolved_once() -> None:
    state, made = run(
        [(0, overdue(False)), (60, overdue(True)), (120, overdue(True)), (180, overdue(True))]
        + [(240, overdue(False)), (300, overdue(False))]
    )
    assert made == [
        (60, "raise", "system.sweep_overdue"),
        (240, "resolve", "system.sweep_overdue_resolved"),
    ]
    assert state is not None and not state.raised and state.episode == 1


def test_a_new_episode_gets_new_event_ids_and_a_replay_the_same_ones() -> None:
    first, _ = decide(None, overdue(True), T0)
    cleared, _ = decide(first, overdue(False), T0 + timedelta(minutes=1))
    again, transition = decide(cleared, overdue(True), T0 + timedelta(minutes=2))
    assert transition == "raise" and again.episode == 2
    one = episode_event(None, first, overdue(True), "raise", T0)
    two = episode_event(cleared, again, overdue(True), "raise", T0 + timedelta(minutes=2))
    assert one.event_id != two.event_id
    assert episode_event(None, first, overdue(True), "raise", T0).event_id == one.event_id


def test_the_resolution_carries_the_episode_it_ends() -> None:
    raised, _ = decide(None, overdue(True, since=T0 - timedelta(minutes=5)), T0)
    later = T0 + timedelta(minutes=30)
    resolved, transition = decide(raised, overdue(False, detail="swept at 12:29"), later)
    assert transition == "resolve"
    event = episode_event(
        raised, resolved, overdue(False, detail="swept at 12:29"), "resolve", later
    )
    assert event.system is not None
    assert event.system.severity == Severity.HIGH and event.system.since == T0 - timedelta(
        minutes=5
    )
    assert event.account_id == "111111111111" and event.system.detail == "swept at 12:29"
    assert event.group_id is None and event.schema_version == 2


def not_ready(bad: bool, since: datetime | None = None) -> Observation:
    return Observation(
        key="system:consumer:auditor.snapshots",
        condition="system.consumer_not_ready",
        subject="consumers of auditor.snapshots",
        detail="retrying",
        severity=Severity.HIGH,
        bad=bad,
        since=since,
        grace=300,
    )


def test_a_consumer_is_raised_only_after_the_grace_period() -> None:
    _, made = run([(0, not_ready(True)), (200, not_ready(True)), (299, not_ready(True))])
    assert made == []
    _, made = run([(0, not_ready(True)), (200, not_ready(True)), (300, not_ready(True))])
    assert made == [(300, "raise", "system.consumer_not_ready")]
    # A report says since when: the grace counts from there, not from the first check.
    _, made = run([(0, not_ready(True, since=T0 - timedelta(minutes=10)))])
    assert made == [(0, "raise", "system.consumer_not_ready")]
    # A blip shorter than the grace never reaches anyone.
    _, made = run([(0, not_ready(True)), (60, not_ready(False)), (400, not_ready(True))])
    assert made == []


def dead(depth: int) -> Observation:
    return Observation(
        key="system:queue:auditor.snapshots.dead",
        condition="system.dead_letters_growing",
        subject="queue auditor.snapshots.dead",
        detail="",
        severity=Severity.MEDIUM,
        settle=300,
        depth=depth,
    )


def test_a_growing_queue_is_raised_on_growth_and_resolved_once_it_settles() -> None:
    state, made = run(
        [(0, dead(4)), (60, dead(4)), (120, dead(6)), (180, dead(6)), (240, dead(9))]
        + [(300, dead(9)), (480, dead(9)), (599, dead(9)), (600, dead(9)), (660, dead(12))]
    )
    assert made == [
        (120, "raise", "system.dead_letters_growing"),  # still growing at 240: same episode
        (600, "resolve", "system.dead_letters_growing_resolved"),  # not grown since 300
        (660, "raise", "system.dead_letters_growing"),
    ]
    assert state is not None and state.depth == 12 and state.episode == 2


def test_the_first_look_at_a_queue_only_takes_its_depth() -> None:
    # Dead letters that were there before the watchdog looked raise nothing by themselves.
    state, made = run([(0, dead(50))])
    assert made == [] and state is not None and state.depth == 50
    raised, transition = decide(state, dead(51), T0 + timedelta(minutes=1))
    event = episode_event(state, raised, dead(51), "raise", T0)
    assert transition == "raise" and event.system is not None
    assert event.system.detail.startswith("grew from 50 to 51 message(s)")


def test_the_default_watched_queues_follow_the_sweeps_queue() -> None:
    settings = Settings(environment="test", sweeps_queue="my.sweeps", partitions=0)
    assert settings.watched_queues == ["my.sweeps", "auditor.snapshots", "notifier.events"]


def test_the_watchdog_watches_every_partition_of_the_auditor() -> None:
    settings = Settings(environment="test", sweeps_queue="my.sweeps", partitions=3)
    assert settings.watched_queues == [
        "my.sweeps",
        "auditor.snapshots",  # drained and deleted after an upgrade; absent is fine
        "auditor.snapshots.p00",
        "auditor.snapshots.p01",
        "auditor.snapshots.p02",
        "notifier.events",
    ]


@pytest.mark.parametrize(
    ("url", "allow", "reason"),
    [
        ("http://checks.example.com/ping/abc", {}, "https"),
        ("https://127.0.0.1/ping", {}, "loopback"),
        ("https://169.254.169.254/latest", {"webhook_allow_private": True}, "metadata"),
        ("https://user:pw@checks.example.com/", {}, "credentials"),
    ],
)
def test_an_unsafe_heartbeat_url_stops_the_collector_at_start(
    url: str, allow: dict[str, bool], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        Settings(environment="test", heartbeat_url=url, **allow)  # type: ignore[arg-type]


def test_a_safe_heartbeat_url_is_accepted() -> None:
    settings = Settings(environment="test", heartbeat_url="https://hc-ping.com/5f3e")
    assert settings.heartbeat_method == "GET"
    local = Settings(
        environment="test",
        heartbeat_url="http://127.0.0.1:9/ping",
        webhook_allow_http=True,
        webhook_allow_private=True,
    )
    assert local.heartbeat_url == "http://127.0.0.1:9/ping"
