"""The `slack` webhook: an incoming-webhook message in Block Kit.

Slack's limits shape it: a header block holds 150 characters, a section 3,000, a
message 50 blocks; text in `mrkdwn` escapes `&`, `<` and `>`.
"""

from __future__ import annotations

import json
from typing import Any

from secmonkey.common.documents import Subscription
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.escaping import slack as mrkdwn
from secmonkey.notifier.notices import Notice

MAX_BLOCKS = 50
_DIGEST_LISTED = 40
_ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":warning:"}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _icon(notice: Notice) -> str:
    severity = notice.event.severity
    if notice.event.type == "issue.fixed":
        return ":white_check_mark:"
    return _ICON.get(severity.value if severity else "", ":information_source:")


def _button(notice: Notice) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": "Open in secmonkey"},
        "url": notice.link,
    }


def event_blocks(notice: Notice) -> list[dict[str, Any]]:
    event = notice.event
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(notice.headline, 150), "emoji": True},
        },
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": _cut(f"*{mrkdwn.text(f.title)}*\n{mrkdwn.text(f.value)}", 2000),
                }
                for f in notice.facts[:10]
            ],
        },
    ]
    if event.issue is not None:
        text = f"{_icon(notice)} *{mrkdwn.text(event.issue.message)}*"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
    if event.changes:
        lines = "\n".join(f"• {mrkdwn.text(c)}" for c in event.changes[:30])
        more = f"\n…and {len(event.changes) - 30} more" if len(event.changes) > 30 else ""
        text = f"*Changes*\n{lines}{more}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
    blocks.append({"type": "actions", "elements": [_button(notice)]})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"secmonkey · event `{event.event_id}`"}],
        }
    )
    return blocks


def digest_blocks(subscription: Subscription, batch: Batch) -> list[dict[str, Any]]:
    count = len(batch.notices)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{subscription.name}: {count} events", 150),
            },
        }
    ]
    for notice in batch.notices[:_DIGEST_LISTED]:
        text = f"{_icon(notice)} <{notice.link}|{mrkdwn.text(notice.headline)}>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
    if count > _DIGEST_LISTED:
        rest = "\n".join(mrkdwn.text(n.headline) for n in batch.notices[_DIGEST_LISTED:])
        text = f"…and {count - _DIGEST_LISTED} more:\n{rest}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"secmonkey digest `{batch.delivery_id}`"}],
        }
    )
    return blocks[:MAX_BLOCKS]


def message(subscription: Subscription, batch: Batch) -> dict[str, Any]:
    if batch.kind == "event":
        # `text` (the notification's fallback) is mrkdwn too.
        return {"text": mrkdwn.text(batch.single.headline), "blocks": event_blocks(batch.single)}
    return {
        "text": f"{mrkdwn.text(subscription.name)}: {len(batch.notices)} events",
        "blocks": digest_blocks(subscription, batch),
    }


def build(subscription: Subscription, batch: Batch) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(message(subscription, batch), separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json; charset=utf-8"}
