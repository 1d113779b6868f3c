"""Webhook bodies: CloudEvents for `generic`, Block Kit for Slack, an Adaptive Card for Teams."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from secmonkey.common import webhooks
from secmonkey.common.documents import Channel, Subscription
from secmonkey.notifier.channels import generic, slack, teams
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.notices import Notice
from tests.unit.notifier.test_notices import event


def sub(kind: str, secret: str | None = "s3cret") -> Subscription:
    return Subscription(
        id="sub1",
        name="team",
        channel=Channel(type=kind, url="https://h.example/x", secret=secret),  # type: ignore[arg-type]
    )


def one(**kw: object) -> Batch:
    e = event(**kw)  # type: ignore[arg-type]
    return Batch("e1:sub1", "event", [Notice.of(e, "https://sm")], idempotency_key=e.event_id)


def many(n: int) -> Batch:
    notices = [Notice.of(event(event_id=f"e{i}", name=f"g{i}"), "https://sm") for i in range(n)]
    return Batch("digest:c:0", "digest", notices, idempotency_key="digest:c:0")


def test_generic_is_a_signed_cloudevent() -> None:
    body, headers = generic.build(sub("generic"), one())
    webhooks.verify("s3cret", headers["X-Secmonkey-Signature"], body)
    doc = json.loads(body)
    assert {"specversion", "id", "source", "type", "time", "datacontenttype", "data"} <= doc.keys()
    assert doc["type"] == "io.secmonkey.issue.opened" and doc["id"] == "e1"
    assert headers["Idempotency-Key"] == "e1"


def test_generic_names_the_delivery_with_one_id_in_the_body_and_every_header() -> None:
    """A receiver deduplicating on the CloudEvents id, webhook-id or Idempotency-Key agrees."""
    secret = "a-generic-secret-16+"
    body, headers = generic.build(sub("generic", secret=secret), one())
    assert json.loads(body)["id"] == headers["webhook-id"] == headers["Idempotency-Key"] == "e1"
    assert headers["X-Secmonkey-Signature"].startswith(f"t={headers['webhook-timestamp']},")
    Webhook(webhooks.standard_secret(secret)).verify(body, headers)
    webhooks.verify(secret, headers["X-Secmonkey-Signature"], body)


def test_every_attempt_of_a_digest_sends_the_same_body_and_id() -> None:
    created = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    batch = replace(many(3), created_at=created)
    first, first_headers = generic.build(sub("generic"), batch)
    again, again_headers = generic.build(sub("generic"), batch)
    assert first == again
    assert json.loads(first)["time"] == "2026-12-06T12:00:00Z"
    assert first_headers["webhook-id"] == again_headers["webhook-id"] == "digest:c:0"


def test_slack_and_teams_carry_no_signature() -> None:
    for build in (slack.build, teams.build):
        _, headers = build(sub("slack"), one())
        assert not {"webhook-id", "webhook-signature", "X-Secmonkey-Signature"} & headers.keys()


def test_generic_digest_lists_every_event() -> None:
    body, headers = generic.build(sub("generic"), many(20))
    doc = json.loads(body)
    assert doc["type"] == "io.secmonkey.digest" and doc["data"]["count"] == 20
    assert [e["event_id"] for e in doc["data"]["events"]] == [f"e{i}" for i in range(20)]
    assert headers["Idempotency-Key"] == "digest:c:0"


def test_generic_without_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        generic.build(sub("generic", secret=None), one())


def test_slack_respects_block_kit_limits() -> None:
    long = "x" * 400
    msg = json.loads(slack.build(sub("slack"), one(name=long, changes=[long] * 100))[0])
    assert len(msg["blocks"][0]["text"]["text"]) <= 150
    for block in msg["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
    digest = json.loads(slack.build(sub("slack"), many(200))[0])
    assert len(digest["blocks"]) <= 50
    assert digest["text"] == "team: 200 events"


def test_teams_digest_is_one_card() -> None:
    msg = json.loads(teams.build(sub("teams"), many(3))[0])
    card = msg["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert [b["text"].split("]")[0].lstrip("[") for b in card["body"][1:]] == [
        n.headline for n in many(3).notices
    ]
