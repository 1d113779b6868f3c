"""Exchanges, consumer queues and their dead-letter exchanges and queues."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractQueue,
    AbstractRobustConnection,
)

from secmonkey.common.amqp.failover import broker_urls, connect_failover
from secmonkey.common.messages import (
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SNAPSHOTS_EXCHANGE,
    SWEEPS_QUEUE,
)
from secmonkey.common.partitions import partition_bindings, partition_queue

log = logging.getLogger(__name__)

REASON_HEADER = "x-secmonkey-reason"
SOURCE_QUEUE_HEADER = "x-secmonkey-queue"
# The `user_id` of the message a dead letter copies (the broker validated it when that
# message was published); "" when it had none.
PUBLISHED_BY_HEADER = "x-secmonkey-published-by"
DEAD_LETTERED_AT_HEADER = "x-secmonkey-dead-lettered-at"
# Set on a message an outbox publishes again (its first publish may have reached the broker
# with its confirm lost): a consumer treats it as it treats a redelivery.
REPUBLISHED_HEADER = "x-secmonkey-republished"
DEFAULT_DELIVERY_LIMIT = 10


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

    @property
    def dead_letter_exchange(self) -> str:
        return dead_letter_exchange(self.name)


def dead_letter_exchange(queue: str) -> str:
    """The exchange that leads to `queue`'s dead-letter queue, and only there."""
    return f"{queue}.dlx"


AUDITOR_QUEUE = QueueSpec("auditor.snapshots", SNAPSHOTS_EXCHANGE, ("aws.#",))
NOTIFIER_QUEUE = QueueSpec("notifier.events", EVENTS_EXCHANGE, ("#",))
SWEEPS = QueueSpec(SWEEPS_QUEUE)


async def connect(url: str) -> AbstractRobustConnection:
    """A connection that reconnects by itself and restores its channels and consumers.

    `url` may list several broker addresses, comma-separated (a cluster's nodes): the
    first that answers is used, and a lost connection moves on to the next (`failover`).
    """
    urls = broker_urls(url)
    properties: dict[str, Any] = {"connection_name": "secmonkey"}
    if len(urls) == 1:
        return await aio_pika.connect_robust(urls[0], client_properties=properties)
    return await connect_failover(urls, client_properties=properties)


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


async def queue_exists(connection: AbstractRobustConnection, name: str) -> bool:
    """Whether the queue exists (asked on a channel of its own: a miss closes it)."""
    channel = await connection.channel()
    try:
        await channel.declare_queue(name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
    return True


async def declare_queue(
    channel: AbstractChannel, spec: QueueSpec, *, existing: bool = False
) -> AbstractQueue:
    """Declare the exchanges, `spec`'s dead-letter queue and `spec` itself, bound. Idempotent.

    With `existing` the queue is used as it was created: a queue made by an earlier
    release keeps its arguments (RabbitMQ refuses a declaration with other ones), so an
    upgrade does not stop at start; moving it to at-least-once dead-lettering is an
    operator's step (docs/operations.md).
    """
    exchanges = await declare_exchanges(channel)
    own_dlx = await channel.declare_exchange(
        spec.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True
    )
    dead = await channel.declare_queue(
        spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
    )
    await dead.bind(own_dlx, routing_key="")
    # Queues of an earlier release still dead-letter through the shared exchange.
    await dead.bind(exchanges[DEAD_LETTER_EXCHANGE], routing_key=spec.name)
    if existing:
        queue = await channel.declare_queue(spec.name, passive=True)
    else:
        # No dead-letter routing key: a dead letter keeps the routing key it was sent with.
        queue = await channel.declare_queue(
            spec.name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": spec.dead_letter_exchange,
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


def auditor_queues(
    partitions: int, base: QueueSpec = AUDITOR_QUEUE
) -> list[tuple[int | None, QueueSpec]]:
    """The auditor's queues: one per partition, each with a single active consumer (or,
    with 0 partitions, `base` alone, numbered None)."""
    if partitions <= 0:
        return [(None, base)]
    return [
        (
            p,
            QueueSpec(
                partition_queue(base.name, p),
                base.exchange,
                tuple(partition_bindings(tuple(base.routing_keys), p)),
                base.delivery_limit,
                {**base.extra_arguments, "x-single-active-consumer": True},
            ),
        )
        for p in range(partitions)
    ]


def with_partition_queues(queues: Sequence[str], partitions: int) -> list[str]:
    """`queues` with `auditor.snapshots` followed by its partition queues (where dead
    letters and backlogs of a partitioned auditor are); unchanged with 0 partitions."""
    names: list[str] = []
    for name in queues:
        names.append(name)
        if name == AUDITOR_QUEUE.name and partitions > 0:
            names += [spec.name for _, spec in auditor_queues(partitions)]
    return names


async def retire_unpartitioned(channel: AbstractChannel, base: QueueSpec) -> bool:
    """Unbind the single queue of a release before partitions, so that it only drains
    (docs/operations.md); True if it exists."""
    try:
        queue = await channel.declare_queue(base.name, passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return False
    if base.exchange:
        for key in base.routing_keys:
            await queue.unbind(base.exchange, routing_key=key)
    return True


async def declare_topology(connection: AbstractRobustConnection, partitions: int = 0) -> None:
    """Everything DESIGN §4 names; each service may call it at start. With `partitions`
    the auditor's queues are the partition queues, and the single queue of an earlier
    release stops receiving (it is drained by the auditor, then deleted)."""
    channel = await connection.channel()
    try:
        specs = [SWEEPS, NOTIFIER_QUEUE] + [spec for _, spec in auditor_queues(partitions)]
        for spec in specs:
            existing = await queue_exists(connection, spec.name)
            await declare_queue(channel, spec, existing=existing)
        if partitions > 0 and await queue_exists(connection, AUDITOR_QUEUE.name):
            await retire_unpartitioned(channel, AUDITOR_QUEUE)
    finally:
        await channel.close()
