"""`/sweeps`: ask the collectors to sweep now (admin)."""

from __future__ import annotations

import logging

from aio_pika.exceptions import AMQPError
from fastapi import APIRouter

from secmonkey.api.deps import Admin, Db, PublisherDep, SettingsDep
from secmonkey.api.problems import Problem, problem_responses
from secmonkey.api.schemas.admin import SweepIn, SweepQueued, SweepsQueued
from secmonkey.common import sweep_requests

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    response_model=SweepsQueued,
    status_code=202,
    summary="Sweep one account (or every monitored one) now",
    responses=problem_responses(503),
)
async def request_sweep(
    db: Db, publisher: PublisherDep, settings: SettingsDep, who: Admin, body: SweepIn
) -> SweepsQueued:
    wanted = None if body.account_id is None else [body.account_id]
    account_ids = await sweep_requests.sweepable_accounts(db, wanted)
    try:
        sweep_id = await sweep_requests.request_sweep(
            db,
            publisher,
            settings.sweeps_queue,
            account_ids,
            regions=body.regions,
            reason=f"api:{who.name}",
            requested_by=who.name,
        )
    except (TimeoutError, AMQPError, ConnectionError) as exc:
        log.warning("could not queue sweep requests on %s: %s", settings.sweeps_queue, exc)
        raise Problem(
            503,
            f"the sweep request could not be queued on {settings.sweeps_queue} "
            f"({exc.__class__.__name__}); is RabbitMQ up and the queue declared?",
            kind="unavailable",
        ) from None
    return SweepsQueued(
        sweeps=[
            SweepQueued(sweep_id=sweep_id, account_id=a, regions=body.regions) for a in account_ids
        ]
    )
