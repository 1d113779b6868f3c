"""Subscriptions: who hears of which events, and how; a test notification to one of them."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from secmonkey.api.schemas.admin import (
    ChannelIn,
    SubscriptionIn,
    SubscriptionTestQueued,
    SubscriptionView,
)
from secmonkey.api.settings import Settings
from secmonkey.common import delivery_schedule, sealed
from secmonkey.common.delivery_schedule import Delivery, new_delivery
from secmonkey.common.documents import Channel, Subscription
from secmonkey.common.errors import InvalidInput, NotFound
from secmonkey.common.messages import Event, new_id
from secmonkey.common.storage import Database
from secmonkey.common.subscriptions import type_filter_known
from secmonkey.common.webhooks import validate_webhook_url

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


async def _channel(body: ChannelIn, settings: Settings, previous: Channel | None) -> Channel:
    """Check a channel; a webhook URL the notifier must not call is refused here (422)."""
    if body.type == "email":
        if not body.to:
            raise InvalidInput("channel.to: an email channel needs at least one recipient")
        bad = [a for a in body.to if not _EMAIL.match(a)]
        if bad:
            raise InvalidInput(f"channel.to: not email addresses: {', '.join(bad[:5])}")
        return Channel(type="email", to=body.to)
    url = body.url
    if not url and previous is not None and previous.type == body.type:
        url = previous.url  # answers show webhook URLs redacted: an update may leave it out
    if not url:
        raise InvalidInput(f"channel.url: a {body.type} channel needs a webhook URL")
    await asyncio.to_thread(
        validate_webhook_url,
        url,
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private,
        resolve=settings.webhook_resolve,
    )
    secret = body.secret or (previous.secret if previous and previous.type == "generic" else None)
    if body.type == "generic" and not secret:
        raise InvalidInput(
            "channel.secret: a generic webhook needs a secret (16+ characters) to sign its bodies"
        )
    return Channel(type=body.type, url=url, secret=secret if body.type == "generic" else None)


def _check_filters(body: SubscriptionIn) -> None:
    for pattern in body.filters.event_types:
        if not type_filter_known(pattern):
            raise InvalidInput(f"filters.event_types: unknown event type {pattern!r}")


async def _load(db: Database, subscription_id: str) -> Subscription:
    doc = await db.subscriptions.find_one({"_id": subscription_id})
    if doc is None:
        raise NotFound(f"no subscription {subscription_id}")
    return _opened(doc)


def _opened(doc: dict[str, Any]) -> Subscription:
    return Subscription.model_validate(sealed.open_doc("subscriptions", doc))


def _stored(subscription: Subscription) -> dict[str, Any]:
    """The document as written: webhook URL and HMAC secret sealed."""
    return sealed.seal_doc("subscriptions", subscription.to_mongo())


async def list_subscriptions(db: Database) -> list[SubscriptionView]:
    docs = await db.subscriptions.find({}).sort("_id", 1).to_list()
    return [SubscriptionView.of(_opened(d)) for d in docs]


async def get_subscription(db: Database, subscription_id: str) -> SubscriptionView:
    return SubscriptionView.of(await _load(db, subscription_id))


async def create_subscription(
    db: Database, settings: Settings, body: SubscriptionIn
) -> SubscriptionView:
    """Add a subscription once its filters and channel check out (webhook targets too)."""
    _check_filters(body)
    channel = await _channel(body.channel, settings, None)
    subscription = Subscription(
        id=uuid.uuid4().hex[:16], **body.model_dump(exclude={"channel"}), channel=channel
    )
    await db.subscriptions.insert_one(_stored(subscription))
    return SubscriptionView.of(subscription)


async def update_subscription(
    db: Database, settings: Settings, subscription_id: str, body: SubscriptionIn
) -> SubscriptionView:
    """Replace a subscription; a webhook URL or secret left out is kept."""
    _check_filters(body)
    previous = await _load(db, subscription_id)
    channel = await _channel(body.channel, settings, previous.channel)
    subscription = Subscription(
        id=subscription_id, **body.model_dump(exclude={"channel"}), channel=channel
    )
    fields = {k: v for k, v in _stored(subscription).items() if k != "_id"}
    result = await db.subscriptions.update_one({"_id": subscription_id}, {"$set": fields})
    if result.matched_count == 0:
        raise NotFound(f"no subscription {subscription_id}")
    return SubscriptionView.of(subscription)


async def delete_subscription(db: Database, subscription_id: str) -> None:
    result = await db.subscriptions.delete_one({"_id": subscription_id})
    if result.deleted_count == 0:
        raise NotFound(f"no subscription {subscription_id}")


async def send_test(db: Database, subscription_id: str) -> SubscriptionTestQueued:
    """Queue a test notification for this subscription only; the notifier sends it."""
    subscription = await _load(db, subscription_id)
    now = datetime.now(UTC)
    event = _sample_event(now)
    await delivery_schedule.schedule(db, _test_delivery(subscription, event, now))
    return SubscriptionTestQueued(
        subscription_id=subscription_id,
        event_id=event.event_id,
        detail="queued for the notifier; its delivery record shows the outcome",
    )


def _sample_event(now: datetime) -> Event:
    return Event(
        event_id=new_id(),
        type="group.changed",
        key="test:000000000000:us-east-1:sg-00000000000000000",
        account_id="000000000000",
        account_name="secmonkey test",
        region="us-east-1",
        group_id="sg-00000000000000000",
        name="secmonkey-test-notification",
        at=now,
        changes=["This is a test notification from secmonkey: the subscription works."],
    )


def _test_delivery(subscription: Subscription, event: Event, now: datetime) -> Delivery:
    """An entry of the notifier's outbox (`delivery_schedule`), due now, for this subscription.

    The notifier's retry loop sends every due outbox entry through the real channel code
    (signing, retries, the `deliveries` record) to its one subscription, so the test
    reaches exactly this target and nobody else.
    """
    return new_delivery(
        f"test-{event.event_id}",
        subscription,
        [event],
        now,
        kind="event",
        due_at=now,
        summary=f"test notification for {subscription.name}",
        test=True,
    )
