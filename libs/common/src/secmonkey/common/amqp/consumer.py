"""A consumer with one decision table per message: ack, retry in place, or dead-letter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from secmonkey.common.amqp.publisher import broker_user
from secmonkey.common.amqp.topology import (
    DEAD_LETTERED_AT_HEADER,
    PUBLISHED_BY_HEADER,
    REASON_HEADER,
    SOURCE_QUEUE_HEADER,
    NotProvisioned,
    QueueSpec,
    check_queues,
    dead_letter_exchange,
    declare_queue,
    queue_exists,
)
from secmonkey.common.errors import InvalidInput, PermanentError, TransientError
from secmonkey.common.storage import is_transient

log = logging.getLogger(__name__)


def _transient(exc: Exception) -> bool:
    """A failure that waiting fixes: a dependency unreachable, busy or locked."""
    return isinstance(exc, TransientError) or is_transient(exc)


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


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
    return (
        int(value)
        if isinstance(value, int | str) and str(value).isascii() and str(value).isdigit()
        else 0
    )


async def dead_letter(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    queue: str,
    reason: str,
    *,
    user_id: str | None = None,
) -> None:
    """Copy `message` to `queue`'s dead-letter queue with the reason, confirmed, then ack it.

    The copy is published as `user_id` (the dead-lettering connection's user: RabbitMQ
    refuses any other), and keeps the original's validated `user_id` in
    `x-secmonkey-published-by`.
    """
    exchange = await channel.get_exchange(dead_letter_exchange(queue))
    headers = dict(message.headers or {})
    headers[REASON_HEADER] = reason[:1000]
    headers[SOURCE_QUEUE_HEADER] = queue
    headers.setdefault(PUBLISHED_BY_HEADER, message.user_id or "")
    headers[DEAD_LETTERED_AT_HEADER] = int(datetime.now(UTC).timestamp() * 1000)
    await exchange.publish(
        aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            headers=headers,
            timestamp=message.timestamp,
            user_id=user_id,
        ),
        routing_key=message.routing_key or queue,  # a fanout: kept only to be shown
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
        declare: bool = True,
        gate: Callable[[], bool] | None = None,
    ) -> None:
        self.connection = connection
        # False: the queue must exist (made by `secmonkey admin provision`); only checked
        self.declare = declare
        self.spec = spec
        self.handler = handler
        self.prefetch = prefetch
        self.retry = retry or RetryPolicy()
        self.channel: AbstractChannel | None = None
        self.trouble: str | None = None
        self.trouble_since: datetime | None = None  # when the current trouble began
        self._tag: str | None = None
        self._queue: AbstractQueue | None = None
        # False: the process may no longer handle this queue (a partition's lease is
        # lost); a message is left unacknowledged and returns to the queue with `stop`.
        self.gate = gate
        self.refused = 0  # messages the gate left unacknowledged
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def start(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=self.prefetch)
        self.channel = channel
        if self.declare:
            existing = await queue_exists(self.connection, self.spec.name)
            self._queue = await declare_queue(channel, self.spec, existing=existing)
        else:
            missing = await check_queues(self.connection, [self.spec])
            if missing:
                raise NotProvisioned(missing)
            self._queue = await declare_queue(channel, self.spec, passive=True)
        self._tag = await self._queue.consume(self._on_message)

    async def stop(self, drain: float = 0.0) -> None:
        """Stop consuming; with `drain`, first let the messages being handled finish (up to
        `drain` seconds), so a successor never handles a message beside this process."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):  # the channel may be gone with the broker
                await self._queue.cancel(self._tag)
            self._tag = None
        if drain:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain):
                    await self._idle.wait()
        if self.channel is not None and not self.channel.is_closed:
            with contextlib.suppress(Exception):
                await self.channel.close()

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        assert self.channel is not None
        log.warning(
            "dead-lettering message from %s: %s",
            self.spec.name,
            reason,
            extra={"queue": self.spec.name, "message_id": message.message_id},
        )
        await dead_letter(
            self.channel, message, self.spec.name, reason, user_id=broker_user(self.connection)
        )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self.gate is not None and not self.gate():
            # Left unacknowledged: the owner stops this consumer (`refused`), which returns
            # the message to the queue, and starts it again if the queue is still its own.
            self.refused += 1
            log.info("not handling a message of %s: not ours at the moment", self.spec.name)
            return
        self._busy += 1
        self._idle.clear()
        try:
            await self._decide(message)
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def _decide(self, message: AbstractIncomingMessage) -> None:
        delay = self.retry.base_delay
        while True:
            try:
                await self.handler(message)
            except (InvalidInput, PermanentError) as exc:
                await self._dead_letter(message, str(exc))
            except Exception as exc:
                if _transient(exc):
                    if self.gate is not None and not self.gate():
                        self.refused += 1
                        return  # not ours now: `stop` returns it to the queue
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
