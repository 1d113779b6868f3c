"""Two runs on one machine never see each other's messages: a test session's snapshot
must not reach a developer's `make run` (its demo would show the test's accounts)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from deploy.local import vhosts
from secmonkey.common import amqp
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE

pytestmark = pytest.mark.integration


async def test_runs_in_their_own_virtual_hosts_do_not_share_messages(amqp_url: str) -> None:
    base = vhosts.with_vhost(amqp_url, "/")
    names = [f"test-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    urls = [await asyncio.to_thread(vhosts.create, name, base) for name in names]
    try:
        connections = [await amqp.connect(url) for url in urls]
        try:
            queues = []
            for connection in connections:
                await amqp.declare_topology(connection)  # the production names, in each
                channel = await connection.channel()
                queues.append(await channel.get_queue(amqp.AUDITOR_QUEUE.name))
            publisher = await amqp.Publisher.open(connections[0])
            await publisher.publish(SNAPSHOTS_EXCHANGE, "aws.111111111111.eu-west-1", b"{}")
            await asyncio.sleep(0.5)
            first, second = [(await q.declare()).message_count for q in queues]
            assert (first, second) == (1, 0)
        finally:
            for connection in connections:
                await connection.close()
    finally:
        for name in names:
            await asyncio.to_thread(vhosts.delete, name)
    assert not set(names) & set(await asyncio.to_thread(vhosts.names))  # removed at the end
