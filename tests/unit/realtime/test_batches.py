"""A window's describe becomes messages whose callers say which groups they changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from secmonkey.collector.cloudtrail.api_calls import ApiCall, parse_body
from secmonkey.collector.cloudtrail.batches import EVENT_SWEEP_PREFIX, snapshot_batches
from secmonkey.collector.cloudtrail.describe import Described
from secmonkey.collector.cloudtrail.window import Windows
from secmonkey.common.canonical import CanonicalGroup, GroupSnapshot
from tests.integration.realtime.cloudtrail import recorded

ACCOUNT, REGION = "111122223333", "us-east-1"


def group(n: int) -> GroupSnapshot:
    return GroupSnapshot.of(
        CanonicalGroup(group_id=f"sg-{n:017x}", name=f"g{n}", owner_id=ACCOUNT, vpc_id="vpc-1")
    )


def call(name: str, *group_ids: str) -> ApiCall:
    event = recorded(name, account=ACCOUNT, region=REGION, group_id=group_ids[0])
    if len(group_ids) > 1:
        event["detail"]["requestParameters"]["resourcesSet"]["items"] = [
            {"resourceId": g} for g in group_ids
        ]
    parsed = parse_body(json.dumps(event))
    assert isinstance(parsed, ApiCall)
    return parsed


def test_groups_are_cut_into_messages_and_callers_name_their_groups() -> None:
    groups = [group(n) for n in range(5)]
    ids = [g.config.group_id for g in groups]
    gone = "sg-0000000000000beef"
    windows = Windows()
    tags = call("CreateTags", *ids[:3])
    authorize = call("AuthorizeSecurityGroupIngress", ids[4])
    delete = call("DeleteSecurityGroup", gone)
    for n, c in enumerate((tags, authorize, delete)):
        window, _, _ = windows.add(c, f"r{n}")
    described = Described(
        observed_at=datetime.now(UTC),
        groups={g.config.group_id: g for g in groups},
        missing=[gone],
    )
    batches = snapshot_batches(window, described, size=2)

    assert [len(b.groups) + len(b.missing_group_ids) for b in batches] == [2, 2, 2]
    assert batches[-1].missing_group_ids == [gone]
    assert len({b.sweep_id for b in batches}) == 1
    assert batches[0].sweep_id.startswith(EVENT_SWEEP_PREFIX)
    assert all(b.source == "event" and b.observed_at == described.observed_at for b in batches)
    by_group = {
        g: sorted(c.event_name for c in b.callers if c.names(g))
        for b in batches
        for g in [*(s.config.group_id for s in b.groups), *b.missing_group_ids]
    }
    assert by_group == {
        ids[0]: ["CreateTags"],
        ids[1]: ["CreateTags"],
        ids[2]: ["CreateTags"],
        ids[3]: [],
        ids[4]: ["AuthorizeSecurityGroupIngress"],
        gone: ["DeleteSecurityGroup"],
    }
    # A caller lists only the groups of its own message.
    first = batches[0].callers[0]
    assert first.event_name == "CreateTags" and first.group_ids == ids[:2]
