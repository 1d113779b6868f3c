"""The auditor's side of RabbitMQ: parse, apply, and ack only once it is stored."""

from __future__ import annotations

import logging

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.auditor.pipeline import Auditor
from secmonkey.common import amqp
from secmonkey.common.messages import parse_snapshot_message

log = logging.getLogger(__name__)


def queue_spec(name: str, routing_keys: list[str] | tuple[str, ...]) -> amqp.QueueSpec:
    """The consumer queue bound to `secmonkey.snapshots` (production: `auditor.snapshots`)."""
    if name == amqp.AUDITOR_QUEUE.name and tuple(routing_keys) == tuple(
        amqp.AUDITOR_QUEUE.routing_keys
    ):
        return amqp.AUDITOR_QUEUE
    return amqp.QueueSpec(name, amqp.AUDITOR_QUEUE.exchange, tuple(routing_keys))


class SnapshotHandler:
    """Handler for `common.amqp.Consumer`: a malformed message raises `InvalidInput`
    (dead-lettered with the reason); while the database is unreachable the consumer
    retries the message in place, so an outage neither drops a batch nor uses up its
    delivery limit."""

    def __init__(self, auditor: Auditor) -> None:
        self.auditor = auditor

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        await self.auditor.handle(parse_snapshot_message(message.body))


async def start_consumer(
    connection: AbstractRobustConnection,
    auditor: Auditor,
    spec: amqp.QueueSpec,
    *,
    prefetch: int,
    declare: bool = True,
) -> amqp.Consumer:
    consumer = amqp.Consumer(
        connection, spec, SnapshotHandler(auditor), prefetch=prefetch, declare=declare
    )
    await consumer.start()
    log.info("consuming %s", spec.name)
    return consumer
