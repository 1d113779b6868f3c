"""Asking for a sweep: the same refusals, one sweep ID and one header whoever asks."""

from __future__ import annotations

import random

import pytest
from aio_pika.abc import AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.dates import to_millis
from secmonkey.common.documents import Account
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import SweepRequest, parse_message
from secmonkey.common.outbox import Outbox
from secmonkey.common.storage import Database
from secmonkey.common.sweep_requests import request_sweep, sweepable_accounts

pytestmark = pytest.mark.integration


def _ids(count: int) -> list[str]:
    rng = random.SystemRandom()
    return [str(rng.randrange(10**11, 10**12)) for _ in range(count)]


async def test_accounts_that_cannot_be_swept_are_each_named(db: Database) -> None:
    with pytest.raises(InvalidInput, match="no monitored account is configured"):
        await sweepable_accounts(db, None)
    plain, partner, disabled, unknown = _ids(4)
    await db.accounts.insert_many(
        [
            Account(id=plain, name="plain").to_mongo(),
            Account(id=partner, name="partner", trusted=True).to_mongo(),
            Account(id=disabled, name="old", enabled=False).to_mongo(),
        ]
    )
    assert await sweepable_accounts(db, None) == [plain]
    assert await sweepable_accounts(db, [plain, plain]) == [plain]
    with pytest.raises(InvalidInput) as refused:
        await sweepable_accounts(db, [plain, unknown, partner, disabled])
    assert str(refused.value) == "; ".join(
        [
            f"unknown account {unknown}: not a configured account",
            f"account {partner} is disabled or not monitored",
            f"account {disabled} is disabled or not monitored",
        ]
    )
    with pytest.raises(InvalidInput, match="account_ids is empty"):
        await sweepable_accounts(db, [])


async def test_one_sweep_id_for_every_account_and_its_header_on_record(
    db: Database, rabbit: AbstractRobustConnection, unique: str
) -> None:
    queue_name = f"test.sweeps.{unique}"
    channel = await rabbit.channel()
    queue = await channel.declare_queue(queue_name, auto_delete=True)
    publisher = await amqp.Publisher.open(rabbit)
    first, second = _ids(2)
    try:
        outbox = Outbox(db, "api_outbox", lambda: publisher)
        sweep_id, sent = await request_sweep(
            db,
            outbox,
            queue_name,
            [first, second],
            regions=["eu-west-1"],
            reason="api:jane",
            requested_by="jane",
        )
        assert sent and await outbox.pending() == 0
        messages = [await queue.get(timeout=10) for _ in range(2)]
        for message in messages:
            await message.ack()
    finally:
        await publisher.close()
        await queue.delete(if_unused=False, if_empty=False)
        await channel.close()
    requests = [parse_message(SweepRequest, m.body) for m in messages]
    assert sorted((r.sweep_id, r.account_id) for r in requests) == sorted(
        [(sweep_id, first), (sweep_id, second)]
    )
    assert sorted(m.message_id or "" for m in messages) == sorted(
        [f"{sweep_id}:{first}", f"{sweep_id}:{second}"]
    )
    header = await db.sweeps.find_one({"_id": sweep_id}, {"_id": 0})
    assert header is not None
    requested_at = header.pop("requested_at")
    assert header == {
        "kind": "sweep",
        "sweep_id": sweep_id,
        "regions": ["eu-west-1"],
        "reason": "api:jane",
        "requested_by": "jane",
        "started_at": requested_at,
        "account_ids": [first, second],
    }
    assert {to_millis(r.requested_at) for r in requests} == {requested_at}
