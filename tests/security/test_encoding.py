"""Output encoding: a hostile group name, account name or rule text is shown as text in every
channel (Teams Markdown, Slack mrkdwn, email headers, HTML), never as a link, a mention, a
header or markup."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
import pytest_asyncio
from fastapi import FastAPI

from secmonkey.common.documents import Channel, Subscription
from secmonkey.notifier.channels import email, slack, teams
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.enrichment import Enrichment
from secmonkey.notifier.notices import Notice
from tests.integration.api import harness
from tests.support.estate import EAST, PROD, T0, UNATTACHED, Estate, Sweep, group, rule
from tests.unit.notifier.test_notices import event

PHISH = "[Re-login required](https://evil.example)"
MENTIONS = "<!channel> <!here> @here @channel <@U123> <https://evil.example|click me>"
BREAK = "web\r\nBcc: victim@example.com\r\n\r\n<b>body</b>"


def _batch(**fields: object) -> Batch:
    e = event(**fields)  # type: ignore[arg-type]
    return Batch("e1:sub1", "event", [Notice.of(e, "https://sm")], idempotency_key=e.event_id)


def _digest(name: str) -> Batch:
    notices = [Notice.of(event(event_id=f"e{i}", name=name), "https://sm") for i in range(3)]
    return Batch("digest:c:0", "digest", notices, idempotency_key="digest:c:0")


def _sub(kind: str, name: str = "team") -> Subscription:
    return Subscription(
        id="sub1",
        name=name,
        channel=Channel(type=kind, url="https://h.example/x"),  # type: ignore[arg-type]
    )


def _texts(value: object) -> list[str]:
    """Every string in a JSON document that a client parses as markup (Slack's
    `plain_text` objects are shown as they are)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return []
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def _markdown_links(text: str) -> list[str]:
    """Links a Markdown renderer that ignores backslash escapes would still form."""
    return re.findall(r"\]\((https?:[^)]*)\)", text)


def test_teams_markdown_link_in_group_name_is_inert() -> None:
    for build in (
        teams.build(_sub("teams"), _batch(name=PHISH, account_name=PHISH)),
        teams.build(_sub("teams", name=PHISH), _digest(PHISH)),
    ):
        texts = _texts(json.loads(build[0]))
        links = [link for t in texts for link in _markdown_links(t)]
        # Only secmonkey's own links (the digest's lines), never the name's.
        assert all(link.startswith("https://sm/") for link in links), links
        assert not any("https://evil" in t for t in texts), "a bare URL a client would link"
        assert any("Re-login required" in t for t in texts), "the name is still shown"


def test_teams_markdown_emphasis_and_list_in_rule_text_are_escaped() -> None:
    body, _ = teams.build(_sub("teams"), _batch(name="**URGENT**", changes=["- [x](y) *z*"]))
    texts = _texts(json.loads(body))
    assert any("\\*\\*URGENT\\*\\*" in t for t in texts)
    assert not any(re.search(r"(?<!\\)\*\*URGENT", t) for t in texts)


def test_slack_channel_mention_in_group_name_is_inert() -> None:
    for build in (
        slack.build(_sub("slack"), _batch(name=MENTIONS, account_name=MENTIONS)),
        slack.build(_sub("slack", name=MENTIONS), _digest(MENTIONS)),
    ):
        texts = _texts(json.loads(build[0]))
        for text in texts:
            assert "<!" not in text and "<@" not in text, text
            assert "|click me>" not in text, text
            assert not re.search(r"(?<![\w\u200b])@(here|channel)\b", text), text
        # The digest links to secmonkey with `<url|…>`: the only `<` left is secmonkey's.
        assert all(t.count("<") == t.count("<https://sm/") for t in texts)


def test_slack_fallback_text_with_mention_is_escaped() -> None:
    body, _ = slack.build(_sub("slack"), _batch(name="<!everyone> db"))
    assert json.loads(body)["text"].count("&lt;!everyone&gt;") == 1


def test_crlf_in_group_name_cannot_inject_an_email_header() -> None:
    batch = _batch(name=BREAK, account_name="prod\nX-Evil: 1")
    notice = batch.single
    rendered = (notice.subject + "\r\nBcc: victim@example.com", "text", "<p>html</p>")
    message = email.compose(
        "secmonkey <sm@example.com>",
        ["sec@example.com", "x@example.com\r\nBcc: victim@example.com"],
        rendered,
        batch,
    )
    raw = message.as_bytes()
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["To"] == "sec@example.com"
    assert "\n" not in str(parsed["Subject"]) and "Bcc" in str(parsed["Subject"])


def test_html_of_an_email_escapes_a_hostile_group_name() -> None:
    batch = _batch(name="<script>alert(1)</script>", account_name="<img src=x onerror=1>")
    enrichment = Enrichment(before=[HOSTILE], after=[f"{HOSTILE} 2"])
    _, _, html = email.render_event(_sub("email"), batch.single, enrichment)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html


HOSTILE = "<script>alert(1)</script>"
HOSTILE_ESTATE = Estate(
    sweeps=[
        Sweep(
            PROD,
            EAST,
            T0,
            [
                (
                    group(
                        "sg-0bad0000000000001",
                        HOSTILE,
                        [rule("ingress", "tcp", (22, 22), "0.0.0.0/0", description=HOSTILE)],
                        description=HOSTILE,
                        tags={"x": HOSTILE},
                    ),
                    UNATTACHED,
                )
            ],
        )
    ]
)


@pytest_asyncio.fixture(scope="module")
async def hostile_app(mongo_url: str, amqp_url: str) -> AsyncIterator[FastAPI]:
    from secmonkey.common import storage

    name = await harness.empty_database(mongo_url)
    client = storage.connect(mongo_url)
    try:
        await storage.detect(client)
        await HOSTILE_ESTATE.build(client[name])
    finally:
        await client.close()
    async with harness.running(harness.settings_for(mongo_url, amqp_url, name)) as app:
        yield app
    await harness.drop(mongo_url, name)


@pytest.mark.integration
async def test_script_in_group_name_is_escaped_in_the_html_report(hostile_app: FastAPI) -> None:
    async with harness.client_for(hostile_app) as admin:
        answer = await admin.get("/api/v1/report", params={"format": "html"})
    assert answer.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    assert "<script>" not in answer.text
    assert "script-src" not in answer.headers["content-security-policy"]
