"""The auditor's side of RabbitMQ: parse, apply, and ack only once it is stored."""

from __future__ import annotations

import logging

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.auditor.pipeline import Auditor
from secmonkey.common import amqp
from secmonkey.common.messages import parse_snapshot_message
from secmonkey.common.storage import with_retry

log = logging.getLogger(__name__)


def queue_spec(name: str, routing_keys: list[str] | tuple[str, ...]) -> amqp.QueueSpec:
    """The consumer queue bound to `secmonkey.snapshots` (production: `auditor.snapshots`)."""
    if name == amqp.AUDITOR_QUEUE.name and tuple(routing_keys) == tuple(
        amqp.AUDITOR_QUEUE.routing_keys
    ):
        return amqp.AUDITOR_QUEUE
    return amqp.QueueSpec(name, amqp.AUDITOR_QUEUE.exchange, tuple(routing_keys))


class SnapshotHandler:
    """Handler for `common.amqp.Consumer`.

    A malformed message raises `InvalidInput` (dead-lettered with the reason). While
    MongoDB is unreachable the message is retried here, without limit and without
    acknowledging, so an outage neither drops a batch nor uses up its delivery limit.
    """

    def __init__(self, auditor: Auditor, *, max_delay: float = 10.0) -> None:
        self.auditor = auditor
        self.max_delay = max_delay

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        parsed = parse_snapshot_message(message.body)
        await with_retry(
            lambda: self.auditor.handle(parsed),
            what=f"applying a {parsed.kind}",
            max_delay=self.max_delay,
        )


async def start_consumer(
    connection: AbstractRobustConnection,
    auditor: Auditor,
    spec: amqp.QueueSpec,
    *,
    prefetch: int,
) -> amqp.Consumer:
    consumer = amqp.Consumer(connection, spec, SnapshotHandler(auditor), prefetch=prefetch)
    await consumer.start()
    log.info("consuming %s", spec.name)
    return consumer
