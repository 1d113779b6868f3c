"""Calls that change exposure without touching a group (an Elastic IP, a route) re-audit
the groups they expose or hide, without waiting for the next sweep."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secmonkey.collector.cloudtrail.api_calls import TOPOLOGY_EVENTS, parse_body
from secmonkey.collector.settings import Settings
from secmonkey.common.documents import issue_id
from secmonkey.common.item_keys import item_key
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink, running
from tests.integration.exposure.estate import build
from tests.integration.realtime.conftest import REGION, Estate, Queues, eventually

pytestmark = pytest.mark.integration

SSH = "ingress tcp/22 from 0.0.0.0/0"


def test_every_exposure_call_is_handled_as_a_topology_call(estate: Estate) -> None:
    event = estate.event("DeleteRoute")
    for name in TOPOLOGY_EVENTS:
        event["detail"]["eventName"] = name
        call = parse_body(json.dumps(event))
        assert getattr(call, "topology", False), name


async def test_associate_address_then_delete_route_raise_then_lower_the_finding(
    settings: Settings,
    queues: Queues,
    estate: Estate,
    sink: SnapshotSink,
    db: Database,
    auditor: None,
) -> None:
    built = build(lambda service: estate.ec2)
    key = item_key(estate.account_id, REGION, built.web)
    ssh = issue_id(key, "internet-admin-port", SSH)

    async def severity(wanted: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            doc = await db.issues.find_one({"_id": ssh})
            return doc if doc is not None and doc["severity"] == wanted else None

        found: dict[str, Any] = await eventually(check, timeout=40, what=f"ssh issue {wanted}")
        return found

    async with running(settings):
        queues.send(estate.event("AssociateAddress"))
        issue = await severity("critical")
        assert (
            f"{built.i1} ({built.eip}) tcp/22 via {built.public_table}/{built.igw}"
            in issue["message"]
        )
        # (the window may be published again if the machine is slow: SQS redelivers)
        first = next(b for b in sink.batches if b.topology is not None)
        assert first.source == "event" and built.web in {g.config.group_id for g in first.groups}

        estate.ec2.delete_route(RouteTableId=built.public_table, DestinationCidrBlock="0.0.0.0/0")
        queues.send(estate.event("DeleteRoute"))
        issue = await severity("medium")
        assert "not reachable from the internet" in issue["message"]
    assert await db.issues.count_documents({"key": key, "rule_id": "internet-admin-port"}) == 1
    assert await db.revisions.count_documents({"key": key}) == 1  # the group never changed
