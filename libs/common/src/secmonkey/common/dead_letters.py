"""Dead letters you can act on: list, show, replay and purge each consumer queue's
dead-letter queue `<queue>.dead` (DESIGN §6: nothing is lost, everything can be replayed).

RabbitMQ has no peek. Reading takes up to a bound of messages with `basic.get` (manual
ack) on a channel of its own, and then hands them all back with one
`basic.nack(multiple, requeue)`; no consumer reads a dead-letter queue, so nobody else
sees the gap. `nack` rather than `reject`: from RabbitMQ 4.3 a `nack` does not count as a
failed delivery, so looking never spends a quorum queue's delivery limit (4.0-4.2 count
every return; docs/operations.md: give the dead-letter queues no limit there).

A dead letter is named by its `message_id`, or by a hash of its body, routing key and
stable headers when it has none. Replaying republishes it through the default exchange
to the queue its dead-letter queue belongs to, waits for the broker's confirm, and only
then acks it away: a failure leaves it where it was. Copies of one message (dead-lettering
is at-least-once) are replayed once and all removed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aio_pika.abc import AbstractRobustConnection as Connection

from secmonkey.common.amqp import (
    DEAD_LETTERED_AT_HEADER,
    PUBLISHED_BY_HEADER,
    REASON_HEADER,
    SOURCE_QUEUE_HEADER,
)

MAX_SCAN = 1000  # messages one request may hold unacknowledged
PREVIEW_CHARS = 200
REPLAYS_HEADER = "x-secmonkey-replays"
_VOLATILE = {"x-delivery-count"}  # changes with every look, so no part of an identity
_DEATH_HEADERS = ("x-death", "x-first-death-", "x-last-death-")
_BROKER_REASONS = {
    "delivery_limit": "delivered too often (the queue's delivery limit)",
    "rejected": "rejected by a consumer without requeue",
    "expired": "expired (message TTL)",
    "maxlen": "the queue was full",
}


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dead"


class Received(Protocol):
    """What a dead letter is read from (an `AbstractIncomingMessage` is one)."""

    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, Any]: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...
    @property
    def timestamp(self) -> datetime | None: ...
    @property
    def routing_key(self) -> str | None: ...
    @property
    def content_type(self) -> str | None: ...


@dataclass(frozen=True)
class DeadLetter:
    id: str
    queue: str  # the consumer queue it came from, and the only one it is replayed into
    reason: str
    dead_lettered_at: datetime | None
    published_at: datetime | None
    published_by: str | None  # the broker user that published it (RabbitMQ checked it)
    message_id: str | None
    routing_key: str | None
    content_type: str | None
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)

    def age_seconds(self, now: datetime | None = None) -> float | None:
        since = self.dead_lettered_at or self.published_at
        if since is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - since).total_seconds())

    def text(self, limit: int | None = None) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if limit is None or len(text) <= limit else text[:limit] + "…"


def jsonable(value: Any) -> Any:
    """A header value as JSON can carry it (bytes as text, instants as ISO 8601)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def identity(message: Received) -> str:
    """The message's id, or `h-<hash>` of what does not change while it waits."""
    if message.message_id:
        return message.message_id
    stable = {k: v for k, v in (message.headers or {}).items() if k not in _VOLATILE}
    digest = hashlib.sha256(message.body)
    digest.update(str(message.routing_key or "").encode())
    digest.update(json.dumps(jsonable(stable), sort_keys=True).encode())
    return f"h-{digest.hexdigest()[:24]}"


def describe(queue: str, message: Received) -> DeadLetter:
    """What an operator needs to know about a dead letter of `queue`."""
    headers = dict(message.headers or {})
    deaths = headers.get("x-death")
    first = (
        deaths[-1] if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict) else {}
    )
    reason = _text(headers.get(REASON_HEADER))
    if not reason:
        broker = _text(headers.get("x-first-death-reason") or first.get("reason")) or "unknown"
        reason = _BROKER_REASONS.get(broker, broker)
    at = headers.get(DEAD_LETTERED_AT_HEADER)
    dead_at = (
        datetime.fromtimestamp(at / 1000, UTC)
        if isinstance(at, int)
        else _instant(first.get("time"))
    )
    publisher = headers.get(PUBLISHED_BY_HEADER, message.user_id)
    return DeadLetter(
        id=identity(message),
        queue=queue,
        reason=reason,
        dead_lettered_at=dead_at,
        published_at=_instant(message.timestamp),
        published_by=_text(publisher) or None,
        message_id=message.message_id,
        routing_key=message.routing_key,
        content_type=message.content_type,
        body=message.body,
        headers=jsonable(headers),
    )


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value or "")


def _instant(value: Any) -> datetime | None:
    return _aware(value) if isinstance(value, datetime) else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay_headers(message: Received) -> dict[str, Any]:
    """The headers a replayed message starts again with: no trace of its death or of its
    deliveries (a consumer would count those against it), its first publisher kept."""
    headers = {
        k: v
        for k, v in (message.headers or {}).items()
        if k not in _VOLATILE
        and not k.startswith(_DEATH_HEADERS)
        and k not in (REASON_HEADER, SOURCE_QUEUE_HEADER, DEAD_LETTERED_AT_HEADER)
    }
    headers.setdefault(PUBLISHED_BY_HEADER, message.user_id or "")
    replays = headers.get(REPLAYS_HEADER)
    headers[REPLAYS_HEADER] = (replays if isinstance(replays, int) else 0) + 1
    return headers


# Talking to the broker ----------------------------------------------------------------


async def depth(connection: Connection, queue: str) -> int | None:
    """How many dead letters `queue` has; None when it has no dead-letter queue (yet)."""
    channel = await connection.channel()
    try:
        dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
    except aio_pika.exceptions.ChannelNotFoundEntity:
        return None
    finally:
        if not channel.is_closed:
            await channel.close()
    return _count(dead)


def _count(queue: AbstractQueue) -> int:
    result = queue.declaration_result
    return int(result.message_count or 0) if result is not None else 0


async def _taken(queue: AbstractQueue, bound: int) -> list[AbstractIncomingMessage]:
    taken: list[AbstractIncomingMessage] = []
    while len(taken) < bound:
        message = await queue.get(no_ack=False, fail=False, timeout=10)
        if message is None:
            break
        taken.append(message)
    return taken


async def _give_back(channel: AbstractChannel, held: list[AbstractIncomingMessage]) -> None:
    """Hand every held message back at once, then close the channel (which would too)."""
    try:
        if held:
            await held[-1].nack(multiple=True, requeue=True)
    finally:
        if not channel.is_closed:
            await channel.close()


async def peek(
    connection: Connection, queue: str, limit: int = 50
) -> tuple[int | None, list[DeadLetter]]:
    """The depth of `queue`'s dead-letter queue and up to `limit` of its messages, left there."""
    channel = await connection.channel()
    held: list[AbstractIncomingMessage] = []
    try:
        try:
            dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return None, []
        count = _count(dead)
        held = await _taken(dead, min(limit, count, MAX_SCAN))
        return count, [describe(queue, m) for m in held]
    finally:
        await _give_back(channel, held)


async def find(connection: Connection, queue: str, letter_id: str) -> DeadLetter | None:
    _, letters = await peek(connection, queue, MAX_SCAN)
    return next((letter for letter in letters if letter.id == letter_id), None)


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    removed: int = 0


async def replay(
    connection: Connection, queue: str, ids: Collection[str] | None, *, user_id: str | None
) -> Outcome:
    """Put the dead letters named `ids` (None: all there are now) back into `queue`."""
    return await _each(connection, queue, ids, republish_as=user_id, replaying=True)


async def purge(connection: Connection, queue: str, ids: Collection[str] | None) -> Outcome:
    """Remove the dead letters named `ids` (None: all) for good."""
    if ids is None:
        channel = await connection.channel()
        try:
            dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
            purged = await dead.purge()
            return Outcome(removed=int(purged.message_count or 0))
        finally:
            if not channel.is_closed:
                await channel.close()
    return await _each(connection, queue, ids, republish_as=None, replaying=False)


async def _each(
    connection: Connection,
    queue: str,
    ids: Collection[str] | None,
    *,
    republish_as: str | None,
    replaying: bool,
) -> Outcome:
    """Take the dead letters there are now (never those that arrive meanwhile, such as a
    replayed message failing again); act on the wanted ones, give the rest back."""
    wanted = None if ids is None else set(ids)
    outcome = Outcome()
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    held: list[AbstractIncomingMessage] = []
    try:
        dead = await channel.declare_queue(dead_letter_queue(queue), passive=True)
        for message in await _taken(dead, min(_count(dead), MAX_SCAN)):
            letter_id = identity(message)
            if wanted is not None and letter_id not in wanted:
                held.append(message)
                continue
            if letter_id not in outcome.done:
                if replaying:
                    await _republish(channel, queue, message, republish_as)
                outcome.done.append(letter_id)
            await message.ack()
            outcome.removed += 1
    finally:
        await _give_back(channel, held)
    outcome.not_found = sorted((wanted or set()) - set(outcome.done))
    return outcome


async def _republish(
    channel: AbstractChannel, queue: str, message: AbstractIncomingMessage, user_id: str | None
) -> None:
    await channel.default_exchange.publish(
        aio_pika.Message(
            message.body,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message.message_id,
            headers=replay_headers(message),
            timestamp=message.timestamp,
            user_id=user_id,
        ),
        routing_key=queue,
        mandatory=True,
    )
