"""Routing by subscription filters, and digests that gather a window of events into one message."""

from __future__ import annotations

import asyncio
from email.message import Message
from typing import Any

import pytest

from secmonkey.common.documents import Account, Channel
from secmonkey.common.severity import Severity
from tests.integration.notifier.conftest import ACCOUNT, make_event, subscription, until
from tests.support.servers import HttpReceiver, SmtpSink

pytestmark = pytest.mark.integration

OTHER = "210987654321"


async def test_events_outside_the_filters_are_not_sent(
    start_notifier: Any, http_receiver: HttpReceiver
) -> None:
    """Chat hears only new high-severity issues of PCI accounts in us-east-1; nothing else."""
    chat = subscription(
        Channel(type="generic", url=f"{http_receiver.url}/chat", secret="k1"),
        event_types=["issue.opened"],
        account_labels=["pci"],
        regions=["us-east-1"],
        min_severity="high",
    )
    everything = subscription(Channel(type="generic", url=f"{http_receiver.url}/all", secret="k2"))
    accounts = [
        Account(id=ACCOUNT, name="prod", labels=["pci", "prod"]),
        Account(id=OTHER, name="dev", labels=["dev"]),
    ]
    wanted = [
        make_event("issue.opened", Severity.HIGH),
        make_event("issue.opened", Severity.CRITICAL, group_id="sg-2"),
    ]
    unwanted = [
        make_event("issue.opened", Severity.MEDIUM),
        make_event("issue.opened", Severity.HIGH, account_id=OTHER),
        make_event("issue.opened", Severity.HIGH, region="eu-west-1"),
        make_event("issue.fixed", Severity.HIGH),
        make_event("group.changed", None, changes=["ingress tcp/22 from 0.0.0.0/0 added"]),
    ]
    async with start_notifier([chat, everything], accounts) as h:
        await h.publish(*unwanted, *wanted)

        def paths(path: str) -> list[str]:
            return [r.json()["id"] for r in http_receiver.received if r.path == path]

        assert await until(lambda: len(paths("/all")) == 7)
        assert await until(lambda: len(paths("/chat")) >= 2)
        # every recorded delivery has been attempted: nothing is left in flight
        assert await until(lambda: _none_pending(h))

    assert sorted(paths("/chat")) == sorted(e.event_id for e in wanted)
    assert sorted(paths("/all")) == sorted(e.event_id for e in wanted + unwanted)


async def _none_pending(h: Any) -> bool:
    """Nothing left in the outbox: every delivery has been attempted and recorded."""
    return await h.db.delivery_schedule.count_documents({}) == 0


def _text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    return ""


async def test_a_digest_window_of_20_events_is_one_message_listing_all_20(
    start_notifier: Any, http_receiver: HttpReceiver, smtp_sink: SmtpSink
) -> None:
    """A compliance team gets one email per window, not twenty; a critical issue still comes at once."""
    by_email = subscription(
        Channel(type="email", to=["compliance@example.com"]), mode="digest", name="PCI changes"
    )
    by_hook = subscription(
        Channel(type="generic", url=f"{http_receiver.url}/digest", secret="k3"), mode="digest"
    )
    events = [
        make_event("issue.opened", Severity.MEDIUM, group_id=f"sg-{i:04d}", name=f"grp-{i:02d}")
        for i in range(20)
    ]
    critical = make_event("issue.opened", Severity.CRITICAL, group_id="sg-crit", name="crit")
    async with start_notifier(
        [by_email, by_hook],
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        digest_window_seconds=4.0,
    ) as h:
        await h.publish(critical)
        # the critical issue skips the digest: it arrives on its own, before the window closes
        assert await until(lambda: http_receiver.received, timeout=10)
        assert http_receiver.received[0].json()["id"] == critical.event_id
        await h.publish(*events)
        assert await until(lambda: len(http_receiver.received) >= 2)
        assert await until(lambda: len(smtp_sink.messages) >= 2)
        # another window's worth of time: nothing else may arrive
        await asyncio.sleep(4.5)
        digests = await h.deliveries(kind="digest")

    assert len(http_receiver.received) == 2
    digest = http_receiver.received[1].json()
    assert digest["type"] == "io.secmonkey.digest"
    assert digest["data"]["count"] == 20
    assert sorted(e["event_id"] for e in digest["data"]["events"]) == sorted(
        e.event_id for e in events
    )

    assert len(smtp_sink.messages) == 2  # the critical one, then the digest
    subjects = [" ".join(m["Subject"].split()) for m in smtp_sink.messages]
    assert subjects[0].startswith("[secmonkey] CRITICAL: ")
    assert subjects[1] == "[secmonkey] PCI changes: 20 events (20 medium)"
    text = _text_of(smtp_sink.messages[1])
    for i in range(20):
        assert f"grp-{i:02d}" in text and f"sg-{i:04d}" in text

    assert len(digests) == 2 and all(d["status"] == "delivered" for d in digests)
    assert all(len(d["event_ids"]) == 20 for d in digests)
    assert await h.db.digests.count_documents({}) == 0
