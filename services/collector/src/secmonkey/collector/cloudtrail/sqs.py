"""The events queue: long-poll receives, batched deletes, and releasing bad messages.

boto3 blocks, so every call runs off the event loop. The long poll runs in a daemon
thread of its own: a 20 s poll in progress at shutdown must not hold the process open
(executor threads are joined at exit) nor wait behind the other SQS calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from secmonkey.collector.cloudtrail import metrics
from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

_QUEUE_REGION = re.compile(r"sqs[.-]([a-z]{2}(?:-[a-z]+)+-\d)\.")


def queue_region(settings: Settings) -> str:
    """The queue's region: the setting, else the one in its URL, else the hub's."""
    if settings.events_queue_region:
        return settings.events_queue_region
    match = _QUEUE_REGION.search(settings.events_queue_url or "")
    return match.group(1) if match else settings.aws_region


def receive_count(message: dict[str, Any]) -> int:
    try:
        return int((message.get("Attributes") or {}).get("ApproximateReceiveCount", 1))
    except ValueError:
        return 1


class EventQueue:
    """The SQS queue of CloudTrail events, read with the hub's own credentials."""

    def __init__(self, settings: Settings, clients: AwsClients, executor: ThreadPoolExecutor):
        if not settings.events_queue_url:
            raise ValueError("events_queue_url is not set")
        self.settings = settings
        self.url = settings.events_queue_url
        self.sqs = clients.hub_client("sqs", queue_region(settings))
        self._executor = executor

    async def _in_thread(self, fn: Callable[..., T], **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, **kwargs))

    async def receive(self) -> list[dict[str, Any]]:
        """Up to `events_max_messages` messages, waiting up to `events_wait_seconds`."""
        return await _in_daemon_thread(self._receive)

    def _receive(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=self.settings.events_max_messages,
            WaitTimeSeconds=self.settings.events_wait_seconds,
            VisibilityTimeout=self.settings.events_visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        return list(answer.get("Messages", []))

    async def delete(self, receipts: list[str]) -> None:
        """Delete handled messages (ten per call); a failure only means a harmless repeat."""
        for start in range(0, len(receipts), 10):
            chunk = receipts[start : start + 10]
            entries = [{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(chunk)]
            try:
                answer = await self._in_thread(
                    self.sqs.delete_message_batch, QueueUrl=self.url, Entries=entries
                )
            except Exception as exc:
                metrics.SQS_ERRORS.labels("DeleteMessageBatch").inc()
                log.warning("deleting %d handled event(s) failed: %s", len(chunk), exc)
                continue
            if answer.get("Failed"):
                metrics.SQS_ERRORS.labels("DeleteMessageBatch").inc(len(answer["Failed"]))
                log.warning("SQS kept %d handled event(s): %s", len(answer["Failed"]), answer)

    async def release(self, receipt: str, received: int) -> None:
        """Make a message visible again now, so the redrive policy sees its next receive.

        Past a few receives (a queue without a redrive policy) it is hidden longer and
        longer instead, so one bad message cannot keep the consumer spinning.
        """
        hidden = 0 if received < 10 else min(900, 30 * received)
        try:
            await self._in_thread(
                self.sqs.change_message_visibility,
                QueueUrl=self.url,
                ReceiptHandle=receipt,
                VisibilityTimeout=hidden,
            )
        except Exception as exc:
            metrics.SQS_ERRORS.labels("ChangeMessageVisibility").inc()
            log.warning("could not release a malformed event: %s", exc)


async def _in_daemon_thread(fn: Callable[[], T]) -> T:
    """Run a blocking call in a daemon thread and await its outcome."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def hand_over(outcome: Callable[[], None]) -> None:
        # The loop may be gone when a poll abandoned at shutdown ends.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, outcome)

    def work() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting coroutine
            hand_over(functools.partial(future.set_exception, exc))
        else:
            hand_over(functools.partial(future.set_result, result))

    threading.Thread(target=work, name="events-receive", daemon=True).start()
    return await future
