"""Retries, permanent failures, dead endpoints and slow endpoints, against real receivers."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from secmonkey.common.documents import Channel
from secmonkey.common.severity import Severity
from tests.integration.notifier.conftest import (
    make_event,
    reopen_on,
    subscription,
    take_down,
    until,
)
from tests.support.servers import HttpReceiver, Received

pytestmark = pytest.mark.integration


def hook(receiver: HttpReceiver, path: str = "/hook") -> Channel:
    return Channel(type="generic", url=f"{receiver.url}{path}", secret="k")


async def test_500_twice_then_200_is_delivered_on_the_third_attempt(start_notifier: Any) -> None:
    """A flaky receiver gets the event once per failure plus once more, and it is recorded delivered."""
    receiver = HttpReceiver(lambda n, r: (500, {}) if n <= 2 else (200, {})).start()
    sub = subscription(hook(receiver))
    event = make_event()
    try:
        async with start_notifier([sub]) as h:
            await h.publish(event)
            assert await until(lambda: _status(h, "delivered"))
            await asyncio.sleep(0.5)  # a spurious extra attempt would show up here
            [delivery] = await h.deliveries()
    finally:
        receiver.stop()

    ids = [r.json()["id"] for r in receiver.received]
    assert ids == [event.event_id] * 3
    assert {r.headers["Idempotency-Key"] for r in receiver.received} == {event.event_id}
    assert delivery["status"] == "delivered" and delivery["attempt_count"] == 3
    assert [(a["outcome"], a["status_code"]) for a in delivery["attempts"]] == [
        ("retry", 500),
        ("retry", 500),
        ("delivered", 200),
    ]
    assert all(a["next_at"] > a["at"] for a in delivery["attempts"][:2])


async def test_404_is_one_attempt_and_a_permanent_failure(
    start_notifier: Any,
) -> None:
    """A receiver that does not exist is not hammered; the failure is visible and dead-lettered."""
    receiver = HttpReceiver(lambda n, r: (404, {})).start()
    try:
        sub = subscription(hook(receiver))
        event = make_event()
        async with start_notifier([sub]) as h:
            await h.publish(event)
            assert await until(lambda: _status(h, "failed"))
            await asyncio.sleep(0.6)
            [delivery] = await h.deliveries()
            dead = await h.undelivered()
    finally:
        receiver.stop()

    assert len(receiver.received) == 1
    assert delivery["attempt_count"] == 1 and delivery["dead_lettered"] is True
    assert delivery["attempts"][0]["outcome"] == "failed"
    assert delivery["last_status_code"] == 404
    assert "404" in delivery["last_error"]
    assert len(dead) == 1
    body = json.loads(dead[0].body)
    assert body["delivery_id"] == delivery["_id"] and body["event_ids"] == [event.event_id]
    assert body["events"][0]["event_id"] == event.event_id
    assert "404" in dead[0].headers["x-secmonkey-reason"]


async def test_a_receiver_down_for_a_while_gets_everything_once_it_is_back(
    start_notifier: Any,
) -> None:
    receiver = HttpReceiver()
    port = take_down(receiver)
    sub = subscription(Channel(type="generic", url=f"http://127.0.0.1:{port}/hook", secret="k"))
    events = [make_event(group_id=f"sg-{i}") for i in range(6)]
    try:
        async with start_notifier([sub]) as h:
            await h.publish(*events)
            # every event is acknowledged and failing against the closed port
            assert await until(
                lambda: _count(h, {"attempt_count": {"$gte": 2}, "status": "pending"}, 6)
            )
            reopen_on(receiver, port)
            assert await until(lambda: _count(h, {"status": "delivered"}, 6))
            await asyncio.sleep(0.6)
            deliveries = await h.deliveries()
    finally:
        receiver.stop()

    ids = sorted(r.json()["id"] for r in receiver.received)
    assert ids == sorted(e.event_id for e in events)  # each once
    for d in deliveries:
        assert d["attempts"][0]["error"].startswith("unreachable, nothing sent")
        assert d["attempts"][-1]["outcome"] == "delivered"


async def test_a_slow_endpoint_does_not_hold_up_the_others(start_notifier: Any) -> None:
    """While one receiver hangs, another still gets every event, and the queue keeps moving."""
    release = threading.Event()
    answered: list[int] = []

    def hang(n: int, r: Received) -> tuple[int, dict[str, str]]:
        release.wait(30)
        answered.append(n)
        return 200, {}

    slow = HttpReceiver(hang).start()
    fast = HttpReceiver().start()
    events = [make_event(group_id=f"sg-{i}") for i in range(30)]  # more than the prefetch
    try:
        async with start_notifier(
            [subscription(hook(slow)), subscription(hook(fast))], webhook_timeout=20.0
        ) as h:
            await h.publish(*events)
            assert await until(lambda: len(fast.received) >= 30)
            assert answered == []  # the slow receiver has not answered anything yet
            release.set()
            assert await until(lambda: _count(h, {"status": "delivered"}, 60), timeout=30)
    finally:
        release.set()
        slow.stop()
        fast.stop()

    assert sorted(r.json()["id"] for r in fast.received) == sorted(e.event_id for e in events)
    assert {r.json()["id"] for r in slow.received} == {e.event_id for e in events}


async def test_retry_after_is_honoured(start_notifier: Any) -> None:
    receiver = HttpReceiver(
        lambda n, r: (429, {"Retry-After": "1"}) if n == 1 else (200, {})
    ).start()
    try:
        async with start_notifier([subscription(hook(receiver))]) as h:
            await h.publish(make_event())
            assert await until(lambda: _status(h, "delivered"))
            [delivery] = await h.deliveries()
    finally:
        receiver.stop()
    first, second = delivery["attempts"]
    assert first["status_code"] == 429 and first["outcome"] == "retry"
    assert (first["next_at"] - first["at"]).total_seconds() >= 1.0
    assert second["outcome"] == "delivered"
    assert len(receiver.received) == 2


async def test_a_delivery_past_its_maximum_age_is_dead_lettered(start_notifier: Any) -> None:
    receiver = HttpReceiver(lambda n, r: (503, {})).start()
    try:
        async with start_notifier(
            [subscription(hook(receiver))], delivery_max_age_seconds=3.0
        ) as h:
            event = make_event(severity=Severity.LOW)
            await h.publish(event)
            assert await until(lambda: _status(h, "failed"))
            [delivery] = await h.deliveries()
            dead = await h.undelivered()
    finally:
        receiver.stop()
    assert delivery["attempt_count"] >= 2
    assert delivery["last_error"].startswith(f"gave up after {delivery['attempt_count']} attempts")
    assert len(receiver.received) == delivery["attempt_count"]
    assert [json.loads(m.body)["event_ids"] for m in dead] == [[event.event_id]]


async def _status(h: Any, status: str) -> bool:
    return await h.db.deliveries.count_documents({"status": status}) >= 1


async def _count(h: Any, query: dict[str, Any], expected: int) -> bool:
    return await h.db.deliveries.count_documents(query) >= expected
