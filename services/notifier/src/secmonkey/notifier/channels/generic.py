"""The `generic` webhook: a CloudEvents 1.0 JSON body (structured mode), HMAC-signed.

Headers: `Content-Type: application/cloudevents+json`, `X-Secmonkey-Signature` and the
Standard Webhooks `webhook-id`, `webhook-timestamp`, `webhook-signature` (see
secmonkey.common.webhooks), `Idempotency-Key` and `X-Secmonkey-Event-Id`. One ID names
the delivery everywhere: the CloudEvents `id`, `webhook-id` and `Idempotency-Key` are the
event ID (a digest: its delivery ID). A retry sends the same body and ID with fresh
signatures and timestamp.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from secmonkey.common import webhooks
from secmonkey.common.documents import Subscription
from secmonkey.notifier.channels.base import Batch
from secmonkey.notifier.notices import Notice

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TYPE_PREFIX = "io.secmonkey."


def notice_data(notice: Notice) -> dict[str, Any]:
    data: dict[str, Any] = notice.event.model_dump(mode="json")
    data["summary"] = notice.headline
    data["link"] = notice.link
    return data


def _timestamp(at: datetime) -> str:
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cloud_event(subscription: Subscription, batch: Batch) -> dict[str, Any]:
    """The CloudEvents envelope: one event, or a `io.secmonkey.digest` listing a window's events."""
    sub = {"id": subscription.id, "name": subscription.name}
    if batch.kind == "event":
        notice = batch.single
        event = notice.event
        return {
            "specversion": "1.0",
            "id": event.event_id,
            "source": (
                f"/secmonkey/aws/{event.account_id}/{event.region}"
                if event.group_id is not None
                else "/secmonkey/system"
            ),
            "type": TYPE_PREFIX + event.type,
            "subject": event.key,
            "time": _timestamp(event.at),
            "datacontenttype": "application/json",
            "data": {**notice_data(notice), "subscription": sub},
        }
    return {
        "specversion": "1.0",
        "id": batch.delivery_id,
        "source": "/secmonkey/notifier",
        "type": TYPE_PREFIX + "digest",
        "subject": subscription.id,
        "time": _timestamp(batch.created_at or datetime.now(UTC)),
        "datacontenttype": "application/json",
        "data": {
            "subscription": sub,
            "count": len(batch.notices),
            "events": [notice_data(n) for n in batch.notices],
        },
    }


def build(subscription: Subscription, batch: Batch) -> tuple[bytes, dict[str, str]]:
    secret = subscription.channel.secret
    if not secret:
        raise ValueError("a generic webhook subscription needs a signing secret")
    envelope = cloud_event(subscription, batch)
    body = json.dumps(envelope, separators=(",", ":")).encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        **webhooks.signature_headers(secret, envelope["id"], body),
        webhooks.IDEMPOTENCY_HEADER: batch.idempotency_key,
        webhooks.DELIVERY_ID_HEADER: batch.delivery_id,
    }
    if batch.kind == "event":
        headers[webhooks.EVENT_ID_HEADER] = batch.single.event.event_id
    return body, headers
