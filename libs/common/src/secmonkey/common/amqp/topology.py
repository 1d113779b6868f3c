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
# The collector's Security Hub export: the issue events it turns into ASFF findings.
SECURITYHUB_QUEUE = QueueSpec(
    "collector.securityhub", EVENTS_EXCHANGE, ("issue.#", "group.deleted")
)
TOPOLOGY = (SWEEPS, AUDITOR_QUEUE, NOTIFIER_QUEUE, SECURITYHUB_QUEUE)


def undelivered_queue(spec: QueueSpec) -> str:
    """Where the notifier keeps deliveries that finally failed: `<queue>.undelivered`."""
    return f"{spec.name}.undelivered"


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


class NotProvisioned(RuntimeError):
    """What a service needs (queues, exchanges, indexes) does not exist, and the service's
    credentials may not create it (`SECMONKEY_DECLARE_AT_START=false`)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(
            f"not provisioned: missing {', '.join(missing)}; run `secmonkey admin provision` "
            "(or `python -m secmonkey.common.provision`) with admin credentials"
        )


async def declare_exchanges(
    channel: AbstractChannel, *, passive: bool = False
) -> dict[str, AbstractExchange]:
    """The exchanges DESIGN §4 names; `passive`: only look them up (no permission needed;
    a missing one raises `NotProvisioned`)."""
    if passive:
        found = {}
        for name in (SNAPSHOTS_EXCHANGE, EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE):
            try:
                found[name] = await channel.get_exchange(name, ensure=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                raise NotProvisioned([f"exchange {name}"]) from None
        return found
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


async def check_queues(
    connection: AbstractRobustConnection, specs: Sequence[QueueSpec], extra: Sequence[str] = ()
) -> list[str]:
    """What of `specs` (queue, dead-letter exchange and queue), the exchanges and the
    `extra` queues is missing; each lookup on a channel of its own (a miss closes it)."""
    missing = []
    for kind, name in [
        *(("exchange", e) for e in (SNAPSHOTS_EXCHANGE, EVENTS_EXCHANGE, DEAD_LETTER_EXCHANGE)),
        *(("exchange", s.dead_letter_exchange) for s in specs),
        *(("queue", q) for s in specs for q in (s.name, s.dead_letter_queue)),
        *(("queue", q) for q in extra),
    ]:
        channel = await connection.channel()
        try:
            if kind == "queue":
                await channel.declare_queue(name, passive=True)
            else:
                await channel.get_exchange(name, ensure=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            missing.append(f"{kind} {name}")
        finally:
            if not channel.is_closed:
                await channel.close()
    return missing


async def declare_queue(
    channel: AbstractChannel, spec: QueueSpec, *, existing: bool = False, passive: bool = False
) -> AbstractQueue:
    """Declare the exchanges, `spec`'s dead-letter queue and `spec` itself, bound. Idempotent.

    With `existing` the queue is used as it was created: a queue made by an earlier
    release keeps its arguments (RabbitMQ refuses a declaration with other ones), so an
    upgrade does not stop at start; moving it to at-least-once dead-lettering is an
    operator's step (docs/operations.md). With `passive` nothing is declared: the queue
    is looked up as `secmonkey admin provision` made it (call `check_queues` first for an
    error naming everything missing).
    """
    if passive:
        return await channel.declare_queue(spec.name, passive=True)
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


def topology(partitions: int = 0) -> list[QueueSpec]:
    """Every consumer queue: with `partitions`, the auditor's are its partition queues."""
    auditor = [spec for _, spec in auditor_queues(partitions)]
    return [SWEEPS, *auditor, NOTIFIER_QUEUE, SECURITYHUB_QUEUE]


async def declare_topology(connection: AbstractRobustConnection, partitions: int = 0) -> None:
    """Everything DESIGN §4 names; each service may call it at start. With `partitions`
    the auditor's queues are the partition queues, and the single queue of an earlier
    release stops receiving (it is drained by the auditor, then deleted)."""
    channel = await connection.channel()
    try:
        for spec in topology(partitions):
            existing = await queue_exists(connection, spec.name)
            await declare_queue(channel, spec, existing=existing)
        undelivered = await channel.declare_queue(
            undelivered_queue(NOTIFIER_QUEUE), durable=True, arguments={"x-queue-type": "quorum"}
        )
        await undelivered.bind(DEAD_LETTER_EXCHANGE, routing_key=undelivered.name)
        if partitions > 0 and await queue_exists(connection, AUDITOR_QUEUE.name):
            await retire_unpartitioned(channel, AUDITOR_QUEUE)
    finally:
        await channel.close()


async def check_topology(connection: AbstractRobustConnection, partitions: int = 0) -> None:
    """Raise `NotProvisioned` naming whatever of DESIGN §4's topology is missing."""
    missing = await check_queues(
        connection, topology(partitions), [undelivered_queue(NOTIFIER_QUEUE)]
    )
    if missing:
        raise NotProvisioned(missing)
