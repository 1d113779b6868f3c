"""Dead letters of the configured consumer queues (`Settings.consumer_queues`), through
`secmonkey.common.dead_letters`; every answer also refreshes the depth gauge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity

from secmonkey.api.auth import Principal
from secmonkey.api.metrics import DEAD_LETTERS
from secmonkey.api.problems import Problem
from secmonkey.api.schemas.dead_letters import (
    DeadLetterDetail,
    DeadLetterList,
    DeadLetterOutcome,
    DeadLetterQueueView,
    DeadLetterSelection,
    DeadLetterView,
)
from secmonkey.common import dead_letters
from secmonkey.common.amqp import broker_user

log = logging.getLogger(__name__)


def known(queues: Sequence[str], queue: str) -> str:
    """`queue` if it is a configured consumer queue; 404 otherwise."""
    if queue not in queues:
        raise Problem(
            404,
            f"{queue!r} is not a consumer queue; known: {', '.join(queues)}",
            kind="not-found",
        )
    return queue


@asynccontextmanager
async def _broker(what: str) -> AsyncIterator[None]:
    try:
        yield
    except ChannelNotFoundEntity:
        raise Problem(
            404, f"{what}: the dead-letter queue does not exist", kind="not-found"
        ) from None
    except (AMQPError, ConnectionError, TimeoutError) as exc:
        log.warning("%s failed: %s", what, exc)
        raise Problem(
            503,
            f"{what} failed: RabbitMQ did not answer ({exc.__class__.__name__})",
            kind="unavailable",
        ) from None


def _view(letter: dead_letters.DeadLetter, now: datetime) -> DeadLetterView:
    return DeadLetterView(
        id=letter.id,
        queue=letter.queue,
        reason=letter.reason,
        dead_lettered_at=letter.dead_lettered_at,
        published_at=letter.published_at,
        age_seconds=letter.age_seconds(now),
        published_by=letter.published_by,
        message_id=letter.message_id,
        routing_key=letter.routing_key,
        content_type=letter.content_type,
        size=len(letter.body),
        preview=letter.text(dead_letters.PREVIEW_CHARS),
    )


async def list_dead_letters(
    rabbit: AbstractRobustConnection, queues: Sequence[str], limit: int
) -> DeadLetterList:
    """Each queue's depth and up to `limit` of its dead letters, oldest first."""
    now = datetime.now(UTC)
    views = []
    async with _broker("listing dead letters"):
        for queue in queues:
            depth, letters = await dead_letters.peek(rabbit, queue, limit)
            DEAD_LETTERS.labels(queue).set(depth or 0)
            views.append(
                DeadLetterQueueView(
                    queue=queue,
                    dead_letter_queue=dead_letters.dead_letter_queue(queue),
                    depth=depth or 0,
                    exists=depth is not None,
                    messages=[_view(letter, now) for letter in letters],
                    truncated=(depth or 0) > len(letters),
                )
            )
    return DeadLetterList(queues=views)


async def show_dead_letter(
    rabbit: AbstractRobustConnection, queue: str, letter_id: str
) -> DeadLetterDetail:
    async with _broker(f"reading the dead letters of {queue}"):
        letter = await dead_letters.find(rabbit, queue, letter_id)
    if letter is None:
        raise Problem(404, f"no dead letter {letter_id!r} in {queue}", kind="not-found")
    view = _view(letter, datetime.now(UTC))
    return DeadLetterDetail(**view.model_dump(), headers=letter.headers, body=letter.text())


async def _act(
    rabbit: AbstractRobustConnection,
    queue: str,
    what: str,
    action: Callable[[], Awaitable[dead_letters.Outcome]],
    who: Principal,
) -> DeadLetterOutcome:
    async with _broker(f"{what} the dead letters of {queue}"):
        outcome = await action()
        depth = await dead_letters.depth(rabbit, queue) or 0
    DEAD_LETTERS.labels(queue).set(depth)
    log.info(
        "%s %d dead letters of %s",
        what,
        outcome.removed,
        queue,
        extra={"queue": queue, "by": who.name, "ids": outcome.done[:100]},
    )
    return DeadLetterOutcome(
        queue=queue,
        done=outcome.done,
        not_found=outcome.not_found,
        removed=outcome.removed,
        depth=depth,
    )


async def replay_dead_letters(
    rabbit: AbstractRobustConnection, queue: str, selection: DeadLetterSelection, who: Principal
) -> DeadLetterOutcome:
    """Republish the chosen dead letters into `queue` (confirmed), then remove them."""
    ids = None if selection.all else selection.ids
    user = broker_user(rabbit)
    return await _act(
        rabbit,
        queue,
        "replaying",
        lambda: dead_letters.replay(rabbit, queue, ids, user_id=user),
        who,
    )


async def purge_dead_letters(
    rabbit: AbstractRobustConnection, queue: str, selection: DeadLetterSelection, who: Principal
) -> DeadLetterOutcome:
    ids = None if selection.all else selection.ids
    return await _act(rabbit, queue, "purging", lambda: dead_letters.purge(rabbit, queue, ids), who)


async def refresh_depths(
    rabbit: AbstractRobustConnection, queues: Sequence[str], every: float
) -> None:
    """Keep the depth gauge current between listings (a task of the API's lifespan)."""
    while True:
        for queue in queues:
            try:
                DEAD_LETTERS.labels(queue).set(await dead_letters.depth(rabbit, queue) or 0)
            except (AMQPError, ConnectionError, TimeoutError) as exc:
                log.debug("dead-letter depth of %s unknown: %s", queue, exc)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Cancelled while the channel opened or closed, and the library swallowed it.
                raise asyncio.CancelledError
        await asyncio.sleep(every)
