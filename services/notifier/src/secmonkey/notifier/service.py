"""The notifier: consume events, record a delivery per matching subscription, ack, deliver.

Per event: subscriptions are matched (secmonkey.common.subscriptions); digest ones hold
the event in `digests` (critical issues skip the digest); immediate ones get a pending
`deliveries` document. Only then is the event acknowledged, and attempts start in the
background. Retries and digests are driven by two loops over MongoDB, so nothing the
process holds in memory is needed by another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import ChannelInvalidStateError

from secmonkey.common import amqp
from secmonkey.common.delivery_schedule import new_delivery
from secmonkey.common.messages import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    Event,
    parse_message,
    utcnow,
)
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database
from secmonkey.common.storage.group_commit import GroupCommit
from secmonkey.common.tasks import stop_tasks
from secmonkey.notifier import metrics
from secmonkey.notifier.attempts import Attempts
from secmonkey.notifier.channels.base import Sender
from secmonkey.notifier.channels.email import EmailSender
from secmonkey.notifier.channels.webhook import WebhookSender
from secmonkey.notifier.deliveries import DeliveryStore
from secmonkey.notifier.digests import Digests
from secmonkey.notifier.notices import headline
from secmonkey.notifier.outcomes import DeadLetters
from secmonkey.notifier.routing import Routes
from secmonkey.notifier.settings import Settings

log = logging.getLogger(__name__)


def queue_spec(settings: Settings) -> amqp.QueueSpec:
    return amqp.QueueSpec(settings.queue, EVENTS_EXCHANGE, tuple(settings.queue_bindings))


def channel_gone(message: AbstractIncomingMessage) -> bool:
    """Whether the channel `message` came on has closed (it can no longer be acknowledged)."""
    try:
        return bool(message.channel.is_closed)
    except ChannelInvalidStateError:  # aio-pika's answer for a closed channel
        return True


def undelivered_queue(spec: amqp.QueueSpec) -> str:
    """Where deliveries that finally failed are kept: `<queue>.undelivered`."""
    return amqp.undelivered_queue(spec)


def default_senders(settings: Settings, db: Database) -> dict[str, Sender]:
    webhook = WebhookSender(
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private,
        timeout=settings.webhook_timeout,
    )
    return {
        "email": EmailSender(settings, db),
        "generic": webhook,
        "slack": webhook,
        "teams": webhook,
    }


class Notifier:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        rabbit: AbstractRobustConnection,
        publisher: amqp.Publisher,
        *,
        spec: amqp.QueueSpec | None = None,
        senders: Mapping[str, Sender] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.rabbit = rabbit
        self.spec = spec or queue_spec(settings)
        self.writes = GroupCommit(db)
        self.store = DeliveryStore(db, self.writes)
        self.routes = Routes(db, settings.subscription_cache_seconds)
        self.senders = dict(senders or default_senders(settings, db))
        self.attempts = Attempts(
            settings,
            self.store,
            self.routes,
            self.senders,
            DeadLetters(publisher, undelivered_queue(self.spec)),
        )
        self.digests = Digests(db, settings, self.store, self.routes, self.attempts)
        self.consumer = amqp.Consumer(
            rabbit,
            self.spec,
            self.handle,
            prefetch=settings.prefetch,
            declare=settings.declare_at_start,
        )
        self._loops: list[asyncio.Task[None]] = []
        self._unqueued: set[str] = set()  # events whose early send outran a failed insert

    async def start(self) -> None:
        await self._declare_undelivered()
        self.writes.start()
        self._loops = [
            asyncio.create_task(self.attempts.run_retries(), name="notifier retries"),
            asyncio.create_task(self.digests.run(), name="notifier digests"),
        ]
        await self.consumer.start()
        log.info("consuming %s", self.spec.name)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        await stop_tasks(self._loops)
        await self.attempts.drain(grace=5)
        await self.writes.stop()
        for sender in {id(s): s for s in self.senders.values()}.values():
            await sender.close()

    async def _declare_undelivered(self) -> None:
        if not self.settings.declare_at_start:
            missing = await amqp.check_queues(self.rabbit, [], [undelivered_queue(self.spec)])
            if missing:
                raise amqp.NotProvisioned(missing)
            return
        channel = await self.rabbit.channel()
        try:
            exchanges = await amqp.declare_exchanges(channel)
            name = undelivered_queue(self.spec)
            queue = await channel.declare_queue(
                name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await queue.bind(exchanges[DEAD_LETTER_EXCHANGE], routing_key=name)
        finally:
            await channel.close()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Record what `message` must become; the consumer acks when this returns."""
        event = parse_message(Event, message.body)
        metrics.EVENTS.labels(event.type).inc()
        # A republished event (an outbox sending again what may have gone out already) is
        # treated as a redelivery: the delivery log is checked before sending.
        republished = bool((message.headers or {}).get(amqp.REPUBLISHED_HEADER))
        # A message whose channel has gone (its broker node lost) cannot be acknowledged:
        # the broker delivers it again, perhaps to another replica at once, so this copy
        # must not race that one with an early send: it is queued first, then sent.
        orphaned = channel_gone(message)
        # A quorum queue also counts deliveries (`x-delivery-count`): either sign will do.
        again = bool(message.redelivered) or amqp.delivery_count(message) > 0
        await self.process(event, redelivered=again or republished or orphaned)

    async def process(self, event: Event, *, redelivered: bool = False) -> None:
        now = utcnow()
        subscriptions = await self.routes.matching(event)
        if not subscriptions:
            return
        critical = event.severity == Severity.CRITICAL
        held = [s for s in subscriptions if s.mode == "digest" and not critical]
        immediate = [s for s in subscriptions if s.mode == "immediate" or critical]
        if held:
            await self.digests.hold(held, event, now)
        due_at = now + timedelta(seconds=self.settings.lease_seconds)
        summary = headline(event)
        deliveries = [
            new_delivery(
                f"{event.event_id}:{s.id}",
                s,
                [event],
                now,
                kind="event",
                due_at=due_at,
                summary=summary,
            )
            for s in immediate
        ]
        careful = redelivered or event.event_id in self._unqueued
        if careful or any(self.attempts.is_active(d.id) for d in deliveries):
            # It may have been made, or be under way, already: queue first, then send.
            for delivery in await self.store.insert_new(deliveries, redelivered=careful):
                await self.attempts.submit(delivery)
            self._unqueued.discard(event.event_id)
            return
        # A first delivery: send beside the outbox insert instead of after it. The ack
        # still waits for the insert; a failure in between means one repeat, never a loss.
        loop = asyncio.get_running_loop()
        queued = {d.id: loop.create_future() for d in deliveries}
        for delivery in deliveries:
            await self.attempts.submit(delivery, queued=queued[delivery.id])
        try:
            fresh = {d.id for d in await self.store.insert_new(deliveries)}
        except BaseException:
            if len(self._unqueued) > 10_000:
                self._unqueued.clear()
            self._unqueued.add(event.event_id)  # its retry queues before it sends
            for future in queued.values():
                if not future.done():
                    future.set_result(False)
            raise
        for delivery_id, future in queued.items():
            if not future.done():
                future.set_result(delivery_id in fresh)
