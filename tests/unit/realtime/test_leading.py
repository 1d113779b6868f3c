"""Leading edge: a call on a quiet group is described at once; what follows within the
window coalesces; a token bucket per account-region bounds the describes made at once."""

from __future__ import annotations

from dataclasses import replace

from secmonkey.collector.cloudtrail.leading import LeadingEdge
from secmonkey.collector.cloudtrail.window import Windows
from tests.unit.realtime.test_window import A, B, call


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_group_leads_and_the_next_call_within_the_window_coalesces() -> None:
    clock, windows = Clock(), Windows()
    edge = LeadingEdge(2.0, per_second=5, burst=20, clock=clock)
    assert edge.take(call("AuthorizeSecurityGroupIngress", A), windows)
    clock.now += 0.5
    assert not edge.take(call("RevokeSecurityGroupIngress", A), windows)  # described 0.5 s ago
    assert edge.take(call("AuthorizeSecurityGroupIngress", B), windows)  # another group: quiet
    clock.now += 2.0
    assert edge.take(call("CreateTags", A), windows)  # quiet again after a whole window


def test_a_group_waiting_in_an_open_window_does_not_lead() -> None:
    clock, windows = Clock(), Windows()
    edge = LeadingEdge(2.0, per_second=5, burst=20, clock=clock)
    window, _, _ = windows.add(call("CreateTags", A), "r1")
    clock.now += 5
    assert not edge.take(call("AuthorizeSecurityGroupIngress", A), windows)
    windows.close(window)
    edge.described(window)  # the window's describe counts as the group's last
    clock.now += 1
    assert not edge.take(call("AuthorizeSecurityGroupIngress", A), windows)
    clock.now += 1.5
    assert edge.take(call("AuthorizeSecurityGroupIngress", A), windows)


def test_past_the_rate_calls_coalesce_and_each_region_has_its_own_bucket() -> None:
    clock, windows = Clock(), Windows()
    edge = LeadingEdge(2.0, per_second=1, burst=3, clock=clock)
    groups = [f"sg-0{n:016x}" for n in range(10)]
    led = [edge.take(call("CreateTags", g), windows) for g in groups[:5]]
    assert led == [True, True, True, False, False]
    assert edge.take(call("CreateTags", groups[5], region="eu-west-1"), windows)
    clock.now += 1.0  # one token back
    assert edge.take(call("CreateTags", groups[6]), windows)
    assert not edge.take(call("CreateTags", groups[7]), windows)


def test_calls_by_group_name_and_a_zero_rate_never_lead() -> None:
    windows = Windows()
    edge = LeadingEdge(2.0, per_second=5, burst=20, clock=Clock())
    by_name = replace(call("DeleteSecurityGroup", A), group_names=("web",))
    assert not edge.take(by_name, windows)
    off = LeadingEdge(2.0, per_second=0, burst=20, clock=Clock())
    assert not off.take(call("AuthorizeSecurityGroupIngress", A), windows)
