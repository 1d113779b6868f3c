"""Turning "sweep these accounts" into SweepRequests on the work queue."""

from __future__ import annotations

from secmonkey.collector import metrics, status
from secmonkey.common.amqp import Publisher
from secmonkey.common.messages import SweepRequest, new_id
from secmonkey.common.storage import Database


async def request_sweep(
    db: Database,
    publisher: Publisher,
    queue: str,
    account_ids: list[str],
    *,
    regions: list[str] | None = None,
    reason: str,
    requested_by: str,
) -> str:
    """Record a sweep and queue one SweepRequest per account; returns the sweep ID.

    Any replica consuming `queue` may take any account, so more replicas sweep faster.
    """
    sweep_id = new_id()
    await status.record_requested(db, sweep_id, account_ids, regions, reason, requested_by)
    requests = [
        SweepRequest(sweep_id=sweep_id, account_id=a, regions=regions, reason=reason)
        for a in account_ids
    ]
    # The default exchange routes by queue name: straight onto the work queue.
    await publisher.publish_many("", ((queue, r, f"{sweep_id}:{r.account_id}") for r in requests))
    metrics.SWEEPS_REQUESTED.labels(reason).inc(len(requests))
    return sweep_id
