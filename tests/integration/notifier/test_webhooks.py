"""Webhook payloads arrive at a real HTTP receiver in their documented shapes."""

from __future__ import annotations

from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from secmonkey.common import webhooks
from secmonkey.common.documents import Channel
from secmonkey.common.errors import InvalidInput
from secmonkey.common.severity import Severity
from tests.integration.notifier.conftest import ACCOUNT, make_event, subscription, until
from tests.support.servers import HttpReceiver

pytestmark = pytest.mark.integration

LINK = (
    f"https://secmonkey.example.com/api/v1/groups/sg-0abc1234?account_id={ACCOUNT}&region=us-east-1"
)


async def test_generic_cloudevent_is_signed_and_carries_an_idempotency_key(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """A receiver can prove the body came from secmonkey and drop a repeated delivery."""
    secret = "whsec-test-3f9a1c"
    sub = subscription(Channel(type="generic", url=f"{http_receiver.url}/hooks/sm", secret=secret))
    event = make_event(
        "issue.opened", Severity.CRITICAL, changes=["ingress all from 0.0.0.0/0 added"]
    )
    async with start_notifier([sub]) as h:
        await h.publish(event)
        assert await until(lambda: http_receiver.received)

    got = http_receiver.received[0]
    assert got.path == "/hooks/sm"
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert headers["idempotency-key"] == event.event_id
    assert headers["x-secmonkey-event-id"] == event.event_id
    webhooks.verify(secret, headers["x-secmonkey-signature"], got.body)
    with pytest.raises(InvalidInput, match="does not match"):
        webhooks.verify("another-secret", headers["x-secmonkey-signature"], got.body)
    # Standard Webhooks: a stock library verifies it, keyed with the secret's bytes
    assert headers["webhook-id"] == event.event_id
    assert Webhook(secret.encode()).verify(got.body, got.headers)["id"] == event.event_id
    with pytest.raises(WebhookVerificationError):
        Webhook(b"another-secret").verify(got.body, got.headers)

    body = got.json()
    assert body["specversion"] == "1.0"
    assert body["id"] == event.event_id
    assert body["type"] == "io.secmonkey.issue.opened"
    assert body["source"] == f"/secmonkey/aws/{ACCOUNT}/us-east-1"
    assert body["subject"] == event.key
    assert body["datacontenttype"] == "application/json"
    assert body["time"].endswith("Z")
    data = body["data"]
    assert data["event_id"] == event.event_id
    assert data["group_id"] == "sg-0abc1234" and data["vpc_id"] == "vpc-0123abcd"
    assert data["issue"]["severity"] == "critical"
    assert data["summary"] == "CRITICAL: tcp/22 opened to 0.0.0.0/0 on web-sg (prod, us-east-1)"
    assert data["link"] == LINK
    assert data["subscription"] == {"id": sub.id, "name": sub.name}


async def test_slack_gets_block_kit_and_teams_an_adaptive_card(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """Chat channels render a readable message with a button to the group."""
    slack = subscription(Channel(type="slack", url=f"{http_receiver.url}/services/T0/B0/xyz"))
    teams = subscription(Channel(type="teams", url=f"{http_receiver.url}/workflows/abc?sig=s1"))
    event = make_event(
        "group.changed",
        None,
        name="db & <cache>",
        changes=["ingress tcp/5432 from 10.0.0.0/8 added", "description changed"],
    )
    async with start_notifier([slack, teams]) as h:
        await h.publish(event)
        assert await until(lambda: len(http_receiver.received) >= 2)

    by_path = {r.path.split("/")[1]: r for r in http_receiver.received}
    message = by_path["services"].json()
    # The fallback text is mrkdwn as well: escaped like every field.
    assert message["text"].startswith("CHANGED: db &amp; &lt;cache&gt; (prod, us-east-1)")
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds[0] == "header" and "actions" in kinds and "context" in kinds
    assert len(message["blocks"]) <= 50
    assert len(message["blocks"][0]["text"]["text"]) <= 150
    fields = {
        f["text"].split("\n")[0]: f["text"].split("\n", 1)[1]
        for f in message["blocks"][1]["fields"]
    }
    assert fields["*Group*"] == "db &amp; &lt;cache&gt; (sg-0abc1234)"
    assert fields["*Account*"] == f"prod ({ACCOUNT})"
    assert fields["*VPC*"] == "vpc-0123abcd"
    changes = next(
        b for b in message["blocks"] if b.get("text", {}).get("text", "").startswith("*Changes*")
    )
    assert "• ingress tcp/5432 from 10.0.0.0/8 added" in changes["text"]["text"]
    button = next(b for b in message["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["type"] == "button" and button["url"] == LINK

    card_message = by_path["workflows"].json()
    assert card_message["type"] == "message"
    attachment = card_message["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    # Card text is Markdown: the group's name has its `<`, `>` escaped.
    assert card["body"][0]["text"].startswith("CHANGED: db & \\<cache\\>")
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Region"] == "us-east-1" and facts["Group"] == "db & \\<cache\\> (sg-0abc1234)"
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in secmonkey", "url": LINK}
    ]
