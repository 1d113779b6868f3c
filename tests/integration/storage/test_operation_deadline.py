"""A database that freezes (accepts, holds the connection, never answers) makes each
operation raise a transient error at the client-side deadline instead of hanging; the
same client works again once the server thaws."""

from __future__ import annotations

import asyncio

import pytest

from secmonkey.common import storage
from tests.support.tcp_proxy import FreezingProxy

pytestmark = pytest.mark.integration


async def test_a_frozen_database_raises_a_transient_error_at_the_deadline(
    mongo_url: str, db_name: str
) -> None:
    proxy = await FreezingProxy("127.0.0.1", int(mongo_url.rsplit(":", 1)[1].strip("/"))).start()
    client = storage.connect(
        f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
        operation_timeout_seconds=2,
    )
    try:
        things = client[db_name]["things"]
        await things.insert_one({"_id": "before"})

        proxy.freeze()
        async with asyncio.timeout(60):  # far above the deadline: a hang fails here
            with pytest.raises(Exception) as raised:
                await things.find_one({"_id": "before"})
        assert storage.is_transient(raised.value), repr(raised.value)

        proxy.thaw()
        found = None
        async with asyncio.timeout(60):
            while found is None:  # the pool replaces the connection the deadline closed
                try:
                    found = await things.find_one({"_id": "before"})
                except Exception as exc:
                    assert storage.is_transient(exc), repr(exc)
                    await asyncio.sleep(0.5)
        assert found == {"_id": "before"}
    finally:
        await client.drop_database(db_name)
        await client.close()
        await proxy.stop()
