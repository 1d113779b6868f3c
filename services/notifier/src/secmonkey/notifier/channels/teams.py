"""The `teams` webhook: a Microsoft Teams workflow ("When a Teams webhook request is received")
message carrying one Adaptive Card (schema 1.4)."""

from __future__ import annotations

import json
from typing import Any

from secmonkey.common.documents import Subscription
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.escaping import teams as md
from secmonkey.notifier.notices import Notice

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
_DIGEST_LISTED = 50
_COLOR = {"critical": "Attention", "high": "Attention", "medium": "Warning"}


def _color(notice: Notice) -> str:
    if notice.event.type == "issue.fixed":
        return "Good"
    severity = notice.event.severity
    return _COLOR.get(severity.value if severity else "", "Default")


def _open(url: str) -> dict[str, Any]:
    return {"type": "Action.OpenUrl", "title": "Open in secmonkey", "url": url}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def event_card(notice: Notice) -> dict[str, Any]:
    event = notice.event
    body: list[dict[str, Any]] = [
        _text(md.text(notice.headline), weight="Bolder", size="Medium", color=_color(notice)),
        {
            "type": "FactSet",
            "facts": [{"title": md.text(f.title), "value": md.text(f.value)} for f in notice.facts],
        },
    ]
    if event.changes:
        body.append(_text("Changes", weight="Bolder"))
        body.append(_text("\n".join(f"- {md.text(c)}" for c in event.changes[:50])))
    return _card(body, [_open(notice.link)])


def digest_card(subscription: Subscription, batch: Batch) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        _text(
            f"{md.text(subscription.name)}: {len(batch.notices)} events",
            weight="Bolder",
            size="Medium",
        )
    ]
    for notice in batch.notices[:_DIGEST_LISTED]:
        body.append(_text(f"[{md.text(notice.headline)}]({notice.link})", color=_color(notice)))
    if len(batch.notices) > _DIGEST_LISTED:
        body.append(_text(f"…and {len(batch.notices) - _DIGEST_LISTED} more", isSubtle=True))
    return _card(body, [])


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    card: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return card


def message(subscription: Subscription, batch: Batch) -> dict[str, Any]:
    card = event_card(batch.single) if batch.kind == "event" else digest_card(subscription, batch)
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


def build(subscription: Subscription, batch: Batch) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(message(subscription, batch), separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json; charset=utf-8"}
