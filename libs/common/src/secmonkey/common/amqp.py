"""RabbitMQ plumbing on aio-pika: topology, a confirming publisher, a safe consumer.

Topology (DESIGN §4): topic exchanges `secmonkey.snapshots` and `secmonkey.events`,
the `secmonkey.sweeps` work queue, and one durable quorum queue per consumer, each
with a delivery limit and its own dead-letter queue `<queue>.dead` behind the
`secmonkey.dlx` exchange. Quorum queues dead-letter `at-least-once` (with
`reject-publish` overflow, which that strategy needs), so a dead letter is never dropped
on the way. Every dead letter the consumer makes carries its reason in
`x-secmonkey-reason`; the broker's delivery limit is only a backstop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pydantic import BaseModel

from secmonkey.common.errors import InvalidInput, PermanentError, TransientError
from secmonkey.common.messages import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SNAPSHOTS_EXCHANGE,
    SWEEPS_QUEUE,
)
from secmonkey.common.storage import is_transient

log = logging.getLogger(__name__)

REASON_HEADER = "x-secmonkey-reason"
SOURCE_QUEUE_HEADER = "x-secmonkey-queue"
DEFAULT_DELIVERY_LIMIT = 10


def _transient(exc: Exception) -> bool:
    """A failure that waiting fixes: a dependency unreachable, busy or locked."""
    return isinstance(exc, TransientError) or is_transient(exc)


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


@dataclass(frozen=True)
class QueueSpec:
    """A durable quorum consumer queue, its bindings and its dead-letter queue."""

    name: str
    exchange: str | None = None
    routing_keys: Sequence[str] = ("#",)
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    extra_arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dead"


AUDITOR_QUEUE = QueueSpec("auditor.snapshots", SNAPSHOTS_EXCHANGE, ("aws.#",))
NOTIFIER_QUEUE = QueueSpec("notifier.events", EVENTS_EXCHANGE, ("#",))
SWEEPS = QueueSpec(SWEEPS_QUEUE)


async def connect(url: str) -> AbstractRobustConnection:
    """A connection that reconnects by itself and restores its channels and consumers."""
    return await aio_pika.connect_robust(url, client_properties={"connection_name": "secmonkey"})


async def declare_exchanges(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    exchanges = {}
    for name in (SNAPSHOTS_EXCHANGE, EVENTS_EXCHANGE):
        exchanges[name] = await channel.declare_exchange(
            name, aio_pika.ExchangeType.TOPIC, durable=True
        )
    exchanges[DEAD_LETTER_EXCHANGE] = await channel.declare_exchange(
        DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
    )
    return exchanges


async def declare_queue(channel: AbstractChannel, spec: QueueSpec) -> AbstractQueue:
    """Declare the exchanges, `spec`'s dead-letter queue and `spec` itself, bound. Idempotent."""
    exchanges = await declare_exchanges(channel)
    dead = await channel.declare_queue(
        spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(exchanges[DEAD_LETTER_EXCHANGE], routing_key=spec.name)
    queue = await channel.declare_queue(
        spec.name,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.name,
            "x-delivery-limit": spec.delivery_limit,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            **spec.extra_arguments,
        },
    )
    if spec.exchange:
        for key in spec.routing_keys:
            await queue.bind(exchanges[spec.exchange], routing_key=key)
    return queue


async def declare_topology(channel: AbstractChannel) -> None:
    """Everything DESIGN §4 names; each service may call it at start."""
    for spec in (SWEEPS, AUDITOR_QUEUE, NOTIFIER_QUEUE):
        await declare_queue(channel, spec)


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


class Publisher:
    """Publishes persistent messages and returns only once the broker confirmed every one.

    `publish_many` sends a whole batch before waiting, so confirms overlap instead of
    costing one round trip each.
    """

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel
        self._exchanges: dict[str, AbstractExchange] = {}

    @classmethod
    async def open(cls, connection: AbstractRobustConnection) -> Publisher:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        publisher = cls(channel)
        publisher._exchanges = await declare_exchanges(channel)
        return publisher

    def _exchange(self, name: str) -> AbstractExchange:
        return self._exchanges[name] if name else self._channel.default_exchange

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        message: BaseModel | bytes,
        *,
        message_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        body = message if isinstance(message, bytes) else encode(message)
        await self._exchange(exchange).publish(
            aio_pika.Message(
                body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                headers=headers or {},
                timestamp=datetime.now(UTC),
            ),
            routing_key=routing_key,
            mandatory=True,
        )

    async def publish_many(
        self, exchange: str, messages: Iterable[tuple[str, BaseModel | bytes, str | None]]
    ) -> None:
        """Publish (routing key, message, message id) triples; raise if any is not confirmed."""
        await asyncio.gather(
            *(self.publish(exchange, key, msg, message_id=mid) for key, msg, mid in messages)
        )

    async def close(self) -> None:
        await self._channel.close()


@dataclass
class RetryPolicy:
    """How a consumer waits out a transient failure (in place, for as long as it lasts),
    and how many deliveries an unexpected handler exception may take before the message
    is dead-lettered with the exception as its reason."""

    base_delay: float = 0.2
    max_delay: float = 10.0
    handler_failures: int = 3


def delivery_count(message: AbstractIncomingMessage) -> int:
    """How often the broker delivered this message before (quorum queues count it)."""
    value = (message.headers or {}).get("x-delivery-count", 0)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0


async def dead_letter(
    channel: AbstractChannel, message: AbstractIncomingMessage, queue: str, reason: str
) -> None:
    """Copy `message` to `queue`'s dead-letter queue with the reason, confirmed, then ack it."""
    exchange = await channel.get_exchange(DEAD_LETTER_EXCHANGE)
    headers = dict(message.headers or {})
    headers[REASON_HEADER] = reason[:1000]
    headers[SOURCE_QUEUE_HEADER] = queue
    await exchange.publish(
        aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            headers=headers,
        ),
        routing_key=queue,
    )
    await message.ack()


class Consumer:
    """Consume one queue: the handler's success acks, its failure decides the message's fate.

    - success → ack (the handler has stored its work);
    - `InvalidInput` / `PermanentError` → dead-letter with the reason, ack;
    - a transient failure (the database or RabbitMQ unreachable, busy or locked,
      `TransientError`) → retried in place with capped backoff for as long as it lasts:
      the message stays unacknowledged, its delivery count does not grow, and `trouble`
      says what the consumer waits for (readiness reports it);
    - any other exception (a bug) → requeued after a pause, and dead-lettered with the
      exception once the message has been delivered `handler_failures` times: never
      silently and never looping.
    """

    def __init__(
        self,
        connection: AbstractRobustConnection,
        spec: QueueSpec,
        handler: Handler,
        *,
        prefetch: int = 16,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.connection = connection
        self.spec = spec
        self.handler = handler
        self.prefetch = prefetch
        self.retry = retry or RetryPolicy()
        self.channel: AbstractChannel | None = None
        self.trouble: str | None = None
        self.trouble_since: datetime | None = None  # when the current trouble began
        self._tag: str | None = None
        self._queue: AbstractQueue | None = None

    async def start(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        self.channel = channel
        self._queue = await declare_queue(channel, self.spec)
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self) -> None:
        if self._queue is not None and self._tag is not None:
            await self._queue.cancel(self._tag)
        if self.channel is not None and not self.channel.is_closed:
            await self.channel.close()

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self.channel is not None
        log.warning(
            "dead-lettering message from %s: %s",
            self.spec.name,
            reason,
            extra={"queue": self.spec.name, "message_id": message.message_id},
        )
        await dead_letter(self.channel, message, self.spec.name, reason)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        delay = self.retry.base_delay
        while True:
            try:
                await self.handler(message)
            except (InvalidInput, PermanentError) as exc:
                await self._dead_letter(message, str(exc))
            except Exception as exc:
                if _transient(exc):
                    self.trouble = f"retrying a message of {self.spec.name}: {exc}"[:300]
                    self.trouble_since = self.trouble_since or datetime.now(UTC)
                    log.warning("transient failure (%s); retry in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry.max_delay)
                    continue
                failures = delivery_count(message) + 1
                if failures >= self.retry.handler_failures:
                    summary = f"{exc.__class__.__name__}: {exc}"
                    await self._dead_letter(
                        message, f"the handler failed {failures} times; last: {summary}"
                    )
                else:
                    log.exception("handler failed on a message from %s; requeueing", self.spec.name)
                    await asyncio.sleep(delay)
                    await message.nack(requeue=True)
            else:
                await message.ack()
            self.trouble = self.trouble_since = None
            return
