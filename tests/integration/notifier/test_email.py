"""Email alerts reach a real SMTP server with everything a responder needs to act."""

from __future__ import annotations

from datetime import timedelta
from email.message import Message
from typing import Any

import pytest

from secmonkey.common.canonical import CanonicalGroup, Rule
from secmonkey.common.documents import Channel
from secmonkey.common.severity import Severity
from tests.integration.notifier.conftest import ACCOUNT, make_event, subscription, until
from tests.support.servers import SmtpSink

pytestmark = pytest.mark.integration


def _parts(message: Message) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if part.get_content_type() == "text/plain":
            text = payload.decode()
        elif part.get_content_type() == "text/html":
            html = payload.decode()
    return text, html


def _revision(key: str, seq: int, rules: list[Rule], description: str) -> dict[str, Any]:
    config = CanonicalGroup(
        group_id="sg-0abc1234",
        name="web-sg",
        description=description,
        vpc_id="vpc-0123abcd",
        owner_id=ACCOUNT,
        rules=rules,
    )
    return {"_id": f"{key}:{seq}", "key": key, "seq": seq, "config": config.model_dump(mode="json")}


async def test_issue_opened_arrives_as_one_email_with_the_facts(
    start_notifier: Any, smtp_sink: SmtpSink
) -> None:
    """The on-call engineer reads what happened, where, what changed, and has a link to act on."""
    https = Rule(
        direction="ingress",
        protocol="tcp",
        from_port=443,
        to_port=443,
        source_kind="cidr4",
        source="0.0.0.0/0",
    )
    ssh_office = Rule(
        direction="ingress",
        protocol="tcp",
        from_port=22,
        to_port=22,
        source_kind="cidr4",
        source="203.0.113.0/24",
    )
    ssh_world = Rule(
        direction="ingress",
        protocol="tcp",
        from_port=22,
        to_port=22,
        source_kind="cidr4",
        source="0.0.0.0/0",
    )
    sub = subscription(Channel(type="email", to=["oncall@example.com", "sec@example.com"]))
    event = make_event(
        "issue.opened",
        Severity.HIGH,
        changes=["ingress tcp/22 from 203.0.113.0/24 replaced by ingress tcp/22 from 0.0.0.0/0"],
    )
    async with start_notifier([sub], smtp_host=smtp_sink.host, smtp_port=smtp_sink.port) as h:
        await h.db.revisions.insert_many(
            [
                _revision(event.key, 1, [https, ssh_office], "web tier"),
                _revision(event.key, 2, [https, ssh_world], "web tier (temp)"),
            ]
        )
        await h.db.issues.insert_one(
            {
                "_id": "fixed-1",
                "key": event.key,
                "rule_id": "public-source",
                "severity": "low",
                "message": "tcp/22 open to public range 203.0.113.0/24",
                "status": "fixed",
                "opened_at": event.at - timedelta(days=3),
                "fixed_at": event.at,
            }
        )
        await h.publish(event)
        assert await until(lambda: len(smtp_sink.messages) >= 1)
        assert await until(
            lambda: h.deliveries(event_id=event.event_id, status="delivered"), timeout=5
        )

    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    assert " ".join(message["Subject"].split()) == (
        "[secmonkey] HIGH: tcp/22 opened to 0.0.0.0/0 on web-sg (prod, us-east-1)"
    )
    assert message["To"] == "oncall@example.com, sec@example.com"
    assert message["X-Secmonkey-Event-Id"] == event.event_id
    text, html = _parts(message)
    link = (
        "https://secmonkey.example.com/api/v1/groups/sg-0abc1234"
        f"?account_id={ACCOUNT}&region=us-east-1"
    )
    for body, link_text in ((text, link), (html, link.replace("&", "&amp;"))):
        for fact in (
            "prod",
            ACCOUNT,
            "us-east-1",
            "vpc-0123abcd",
            "sg-0abc1234",
            "web-sg",
            "tcp/22 opened to 0.0.0.0/0",
            "ingress tcp/22 from 203.0.113.0/24 replaced by ingress tcp/22 from 0.0.0.0/0",
            "ingress tcp/22 from 203.0.113.0/24",  # before
            "ingress tcp/22 from 0.0.0.0/0",  # after
            "web tier (temp)",
            "internet-admin-port",  # the issue opened
            "tcp/22 open to public range 203.0.113.0/24",  # the issue fixed
            link_text,
        ):
            assert fact in body, (
                f"{fact!r} missing from the {'html' if body is html else 'text'} body"
            )
    assert "Issues opened" in text and "Issues fixed" in text
    assert "before: ingress tcp/22 from 203.0.113.0/24" in text
    assert "after:  ingress tcp/22 from 0.0.0.0/0" in text
    # unchanged rules are not listed as changes
    assert "before: ingress tcp/443" not in text and "after:  ingress tcp/443" not in text
    assert "<del>ingress tcp/22 from 203.0.113.0/24</del>" in html


async def test_names_are_escaped_in_the_html_body(start_notifier: Any, smtp_sink: SmtpSink) -> None:
    """A group named with markup cannot inject HTML into the alert."""
    sub = subscription(Channel(type="email", to=["oncall@example.com"]))
    event = make_event("group.created", None, name="<script>alert(1)</script>", seq=None)
    async with start_notifier([sub], smtp_host=smtp_sink.host, smtp_port=smtp_sink.port) as h:
        await h.publish(event)
        assert await until(lambda: len(smtp_sink.messages) >= 1)
    text, html = _parts(smtp_sink.messages[0])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in text
    subject = " ".join(smtp_sink.messages[0]["Subject"].split())
    assert subject.startswith("[secmonkey] NEW GROUP: <script>")


async def test_the_ehlo_name_is_the_setting_and_never_looked_up_per_message(
    start_notifier: Any, smtp_sink: SmtpSink
) -> None:
    """The EHLO name comes from `SECMONKEY_SMTP_LOCAL_HOSTNAME` (or one lookup at the first
    message), not from a DNS query per message (seconds each where reverse lookups time out)."""
    sub = subscription(Channel(type="email", to=["oncall@example.com"]))
    relay = {"smtp_host": smtp_sink.host, "smtp_port": smtp_sink.port}
    async with start_notifier([sub], smtp_local_hostname="notifier.example.org", **relay) as h:
        for _ in range(2):
            await h.publish(make_event("issue.opened"))
        assert await until(lambda: len(smtp_sink.messages) >= 2)
    assert len(smtp_sink.messages) == 2
    assert smtp_sink.ehlo_names == ["notifier.example.org", "notifier.example.org"]
