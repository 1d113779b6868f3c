"""Coalescing: a window per account-region, callers per group, duplicates counted once."""

from __future__ import annotations

import json

from secmonkey.collector.cloudtrail.api_calls import ApiCall, parse_body
from secmonkey.collector.cloudtrail.window import Windows
from tests.integration.realtime.cloudtrail import recorded

A, B = "sg-0aaaaaaaaaaaaaaaa", "sg-0bbbbbbbbbbbbbbbb"


def call(name: str, group: str, region: str = "us-east-1", **kw: str) -> ApiCall:
    parsed = parse_body(
        json.dumps(recorded(name, account="111122223333", region=region, group_id=group, **kw))
    )
    assert isinstance(parsed, ApiCall)
    return parsed


def test_calls_on_one_region_share_a_window_and_keep_their_own_callers() -> None:
    windows = Windows()
    first = call("AuthorizeSecurityGroupIngress", A)
    window, opened, new = windows.add(first, "r1")
    assert opened and new
    same, opened, new = windows.add(call("CreateTags", B), "r2")
    assert same is window and not opened and new
    again, opened, new = windows.add(first, "r3")
    assert again is window and not new and window.duplicates == 1
    other, opened, _ = windows.add(call("CreateTags", A, region="eu-west-1"), "r4")
    assert other is not window and opened
    assert window.receipts == ["r1", "r2", "r3"]
    assert [c.event_id for c in window.callers_of(A)] == [first.event_id]
    assert [c.event_name for c in window.callers_of(B)] == ["CreateTags"]
    windows.close(window)
    fresh, opened, _ = windows.add(call("DeleteTags", A), "r5")
    assert opened and fresh is not window


def test_a_name_resolved_later_carries_its_callers() -> None:
    windows = Windows()
    by_name = call("AuthorizeSecurityGroupIngress.by-name", A, group_name="legacy")
    window, _, _ = windows.add(by_name, "r1")
    assert window.names == {"legacy": {by_name.event_id: by_name.caller}}
    assert window.callers_of("sg-0cccccccccccccccc", "legacy") == [by_name.caller]
