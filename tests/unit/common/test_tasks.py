"""Stopping background tasks: a task that swallows its cancellation is abandoned after the
bound instead of holding the shutdown forever."""

from __future__ import annotations

import asyncio
import time

import pytest

from secmonkey.common.tasks import stop_tasks


async def _swallows_cancellation(release: asyncio.Event) -> None:
    while not release.is_set():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:  # what aiormq does to a cancelled RPC
            continue


async def test_a_well_behaved_task_stops_at_once() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    started = time.monotonic()
    await stop_tasks([task, None])
    assert task.cancelled()
    assert time.monotonic() - started < 1


async def test_a_task_that_swallows_cancellation_is_abandoned_after_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    stuck = asyncio.create_task(_swallows_cancellation(release), name="stubborn")
    await asyncio.sleep(0)  # inside its `try` before it is cancelled
    started = time.monotonic()
    await stop_tasks([stuck], seconds=0.3)
    waited = time.monotonic() - started
    assert not stuck.done()
    assert 0.3 <= waited < 2
    assert "task stubborn did not stop when cancelled; abandoned" in caplog.text
    release.set()
    stuck.cancel()
    await asyncio.wait([stuck], timeout=1)
    assert stuck.done()


async def test_a_failed_task_does_not_raise_at_stop() -> None:
    async def fails() -> None:
        raise RuntimeError("boom")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await stop_tasks([task])
    assert isinstance(task.exception(), RuntimeError)
