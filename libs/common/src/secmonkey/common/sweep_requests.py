"""Asking for a sweep: which accounts may be swept, the request on record, the work queued.

The collector's scheduler and the API's `POST /api/v1/sweeps` both go through
`request_sweep`, so every sweep has one ID, one header document in `sweeps` and
one `SweepRequest` per account, whoever asked. The `sweeps` collection is owned by the
collector (it records each account's and region's progress there); the header writers
live here because the API records the sweeps it requests too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from secmonkey.common import storage
from secmonkey.common.accounts import get_account, is_monitored, monitored_accounts
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import SweepRequest, new_id, utcnow
from secmonkey.common.outbox import Outbox, Outgoing
from secmonkey.common.storage import Database


async def sweepable_accounts(db: Database, account_ids: list[str] | None) -> list[str]:
    """The accounts to sweep: those given (each known and monitored), or every monitored one.

    Raises `InvalidInput` naming every account that cannot be swept, or saying that
    there is none to sweep.
    """
    if account_ids is None:
        monitored = [a.id for a in await monitored_accounts(db)]
        if not monitored:
            raise InvalidInput("no monitored account is configured")
        return monitored
    wanted = list(dict.fromkeys(account_ids))
    if not wanted:
        raise InvalidInput("account_ids is empty: name accounts, or none for every monitored one")
    problems = []
    for account_id in wanted:
        account = await get_account(db, account_id)
        if account is None:
            problems.append(f"unknown account {account_id}: not a configured account")
        elif not is_monitored(account):
            problems.append(f"account {account_id} is disabled or not monitored")
    if problems:
        raise InvalidInput("; ".join(problems))
    return wanted


async def request_sweep(
    db: Database,
    outbox: Outbox,
    queue: str,
    account_ids: list[str],
    *,
    regions: list[str] | None,
    reason: str,
    requested_by: str,
) -> tuple[str, bool]:
    """Record a sweep and queue one SweepRequest per account, all with one sweep ID, through
    an outbox: the requests are stored before the header and published after it. Returns the sweep ID and whether RabbitMQ took them now (if not,
    they wait in the outbox; a collector records a header it never saw on receipt)."""
    sweep_id = new_id()
    now = utcnow()
    messages = _messages(sweep_id, queue, account_ids, regions, reason, now)
    await storage.with_retry(lambda: outbox.put(messages), what="storing sweep requests")
    await record_requested(db, sweep_id, account_ids, regions, reason, requested_by, now)
    return sweep_id, await outbox.send(messages)


def _messages(
    sweep_id: str,
    queue: str,
    account_ids: list[str],
    regions: list[str] | None,
    reason: str,
    at: datetime,
) -> list[Outgoing]:
    """One SweepRequest per account, with a message id stable for the sweep and account."""
    requests = [
        SweepRequest(
            sweep_id=sweep_id, account_id=a, regions=regions, requested_at=at, reason=reason
        )
        for a in account_ids
    ]
    # The default exchange routes by queue name: straight onto the work queue.
    return [Outgoing.of("", queue, r, f"{sweep_id}:{r.account_id}") for r in requests]


def _header(
    sweep_id: str,
    regions: list[str] | None,
    reason: str,
    requested_by: str | None,
    requested_at: datetime,
) -> dict[str, Any]:
    return {
        "kind": "sweep",
        "sweep_id": sweep_id,
        "regions": regions,
        "reason": reason,
        "requested_by": requested_by,
        "requested_at": requested_at,
        "started_at": requested_at,
    }


async def record_requested(
    db: Database,
    sweep_id: str,
    account_ids: list[str],
    regions: list[str] | None,
    reason: str,
    requested_by: str,
    at: datetime,
) -> None:
    """The sweep's header in `sweeps`: what was asked, by whom, when."""
    fields = {
        **_header(sweep_id, regions, reason, requested_by, at),
        "account_ids": account_ids,
    }
    await storage.with_retry(
        lambda: db.sweeps.update_one({"_id": sweep_id}, {"$set": fields}, upsert=True),
        what="recording a sweep request",
    )


async def record_received(
    db: Database, sweep_id: str, account_id: str, reason: str, requested_at: datetime
) -> None:
    """Make sure a sweep a collector received is on record, whoever queued the request."""
    await storage.with_retry(
        lambda: db.sweeps.update_one(
            {"_id": sweep_id},
            {
                "$setOnInsert": _header(sweep_id, None, reason, None, requested_at),
                "$addToSet": {"account_ids": account_id},
            },
            upsert=True,
        ),
        what="recording a received sweep request",
    )
