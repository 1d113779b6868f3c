"""`secmonkey dead-letters` against a running API: an operator sees what a consumer
dead-lettered and puts it back into its queue."""

from __future__ import annotations

import asyncio
import json

import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from secmonkey.client.cli import main
from secmonkey.common import amqp, dead_letters
from secmonkey.common.errors import InvalidInput
from tests.integration.api.harness import ADMIN_KEY, LiveServer

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    capsys.readouterr()
    assert main(list(args)) == code
    return capsys.readouterr().out


async def test_the_cli_lists_a_dead_letter_and_replays_it_into_its_queue(
    live: LiveServer,
    rabbit: AbstractRobustConnection,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECMONKEY_URL", live.url)
    monkeypatch.setenv("SECMONKEY_API_KEY", ADMIN_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    queue: str = live.consumer_queue  # type: ignore[attr-defined]
    spec = amqp.QueueSpec(queue)

    async def refuse(message: AbstractIncomingMessage) -> None:
        raise InvalidInput("not a sweep request")

    consumer = amqp.Consumer(rabbit, spec, refuse)
    await consumer.start()
    publisher = await amqp.Publisher.open(rabbit)
    await publisher.publish("", queue, b"garbage", message_id="req-1")
    await publisher.close()
    for _ in range(100):
        if await dead_letters.depth(rabbit, queue):
            break
        await asyncio.sleep(0.1)
    await consumer.stop()

    table = run(capsys, "dead-letters", "list")
    assert "req-1" in table and "not a sweep request" in table and "guest" in table
    listed = json.loads(run(capsys, "--json", "dead-letters", "list", queue))
    assert [m["id"] for m in listed["queues"][0]["messages"]] == ["req-1"]
    assert "garbage" in run(capsys, "dead-letters", "show", queue, "req-1")

    run(capsys, "dead-letters", "replay", queue, code=2)  # neither ids nor --all
    out = run(capsys, "dead-letters", "replay", queue, "req-1")
    assert "replayed 1 dead letter(s)" in out and "0 left" in out

    channel = await rabbit.channel()
    back = await (await channel.get_queue(queue)).get(no_ack=True, timeout=5)
    await channel.close()
    assert back.body == b"garbage" and back.message_id == "req-1"
    assert await dead_letters.depth(rabbit, queue) == 0
