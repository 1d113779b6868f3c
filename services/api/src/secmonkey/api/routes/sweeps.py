"""`/sweeps`: ask the collectors to sweep now (admin)."""

from __future__ import annotations

import logging

from aio_pika.exceptions import AMQPError
from fastapi import APIRouter

from secmonkey.api.deps import Admin, Db, PublisherDep, SettingsDep
from secmonkey.api.problems import Problem, problem_responses
from secmonkey.api.schemas.admin import SweepIn, SweepQueued, SweepsQueued
from secmonkey.common.documents import Account
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import SweepRequest

log = logging.getLogger(__name__)
router = APIRouter(prefix="/sweeps", tags=["sweeps"], responses=problem_responses(401, 403, 422))


@router.post(
    "",
    response_model=SweepsQueued,
    status_code=202,
    summary="Sweep one account (or every enabled one) now",
    responses=problem_responses(503),
)
async def request_sweep(
    db: Db, publisher: PublisherDep, settings: SettingsDep, who: Admin, body: SweepIn
) -> SweepsQueued:
    if body.account_id is not None:
        doc = await db.accounts.find_one({"_id": body.account_id})
        if doc is None:
            raise InvalidInput(f"account_id: {body.account_id} is not a configured account")
        accounts = [Account.model_validate(doc)]
        if not accounts[0].enabled:
            raise InvalidInput(f"account_id: {body.account_id} is disabled")
    else:
        accounts = [Account.model_validate(d) async for d in db.accounts.find({"enabled": True})]
        if not accounts:
            raise InvalidInput("no enabled account is configured; POST /accounts first")
    requests = [
        SweepRequest(account_id=a.id, regions=body.regions, reason=f"api:{who.name}")
        for a in accounts
    ]
    try:
        await publisher.publish_many("", ((settings.sweeps_queue, r, r.sweep_id) for r in requests))
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
            SweepQueued(sweep_id=r.sweep_id, account_id=r.account_id, regions=r.regions)
            for r in requests
        ]
    )
