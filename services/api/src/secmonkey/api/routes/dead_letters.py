"""`/dead-letters`: what each consumer queue could not process; replay or purge it (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import ValidationError

from secmonkey.api.audit.deps import AdminTrail
from secmonkey.api.deps import Admin, Rabbit, SettingsDep
from secmonkey.api.problems import Problem, problem_responses
from secmonkey.api.queries import dead_letters
from secmonkey.api.schemas.dead_letters import (
    LETTER_ID_PATTERN,
    MAX_IDS,
    QUEUE_PATTERN,
    DeadLetterDetail,
    DeadLetterList,
    DeadLetterOutcome,
    DeadLetterSelection,
)
from secmonkey.common.dead_letters import MAX_SCAN

router = APIRouter(
    prefix="/dead-letters",
    tags=["dead letters"],
    responses=problem_responses(401, 403, 422, 503),
)
QueueName = Annotated[str, Path(pattern=QUEUE_PATTERN, description="a consumer queue")]


@router.get(
    "",
    response_model=DeadLetterList,
    summary="Dead letters of every consumer queue",
    responses=problem_responses(404),
)
async def list_dead_letters(
    rabbit: Rabbit,
    settings: SettingsDep,
    _: Admin,
    queue: Annotated[str | None, Query(pattern=QUEUE_PATTERN, description="one queue")] = None,
    limit: Annotated[int, Query(ge=0, le=MAX_SCAN, description="messages per queue")] = 50,
) -> DeadLetterList:
    queues = settings.consumer_queues
    if queue is not None:
        queues = [dead_letters.known(queues, queue)]
    return await dead_letters.list_dead_letters(rabbit, queues, limit)


@router.post(
    "/{queue}/replay",
    response_model=DeadLetterOutcome,
    summary="Put dead letters back into the queue they came from (after a fix)",
    responses=problem_responses(404),
)
async def replay_dead_letters(
    rabbit: Rabbit,
    settings: SettingsDep,
    trail: AdminTrail,
    queue: QueueName,
    body: DeadLetterSelection,
) -> DeadLetterOutcome:
    queue = dead_letters.known(settings.consumer_queues, queue)
    assert trail.principal is not None
    outcome = await dead_letters.replay_dead_letters(rabbit, queue, body, trail.principal)
    await trail.record("dead_letters.replayed", queue, before=body, after=outcome)
    return outcome


@router.get(
    "/{queue}/{letter_id}",
    response_model=DeadLetterDetail,
    summary="One dead letter, with its headers and body",
    responses=problem_responses(404),
)
async def show_dead_letter(
    rabbit: Rabbit,
    settings: SettingsDep,
    _: Admin,
    queue: QueueName,
    letter_id: Annotated[str, Path(pattern=LETTER_ID_PATTERN)],
) -> DeadLetterDetail:
    queue = dead_letters.known(settings.consumer_queues, queue)
    return await dead_letters.show_dead_letter(rabbit, queue, letter_id)


@router.delete(
    "/{queue}",
    response_model=DeadLetterOutcome,
    summary="Remove dead letters for good",
    responses=problem_responses(404),
)
async def purge_dead_letters(
    rabbit: Rabbit,
    settings: SettingsDep,
    trail: AdminTrail,
    queue: QueueName,
    ids: Annotated[list[str] | None, Query(alias="id", max_length=MAX_IDS)] = None,
    all: Annotated[bool, Query(description="every dead letter of the queue")] = False,
) -> DeadLetterOutcome:
    queue = dead_letters.known(settings.consumer_queues, queue)
    try:
        selection = DeadLetterSelection(ids=ids, all=all)
    except ValidationError:
        raise Problem(
            422, "give either `id` (repeatable) or `all=true`", kind="invalid-input"
        ) from None
    assert trail.principal is not None
    outcome = await dead_letters.purge_dead_letters(rabbit, queue, selection, trail.principal)
    await trail.record("dead_letters.purged", queue, before=selection, after=outcome)
    return outcome
