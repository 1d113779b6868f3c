"""What each process's consumers are doing, where the collector's watchdog can see it.

Readiness (`Runtime.readiness`) reports a consumer that waits out a fault, but only to
whoever asks that one process. So every process with consumers also writes, every
`SECMONKEY_CONSUMER_REPORT_SECONDS`, one document per consumer to `consumer_reports`
(owned by the collector, whose watchdog reads it): its queue, the process, and the
trouble it waits out and since when (none when ready). A process that stops removes its
reports; one that crashes stops refreshing them, and the watchdog reads only fresh ones
(a vanished consumer shows as a queue without consumers instead) and deletes them after a
day.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from secmonkey.common.amqp import Consumer
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


def process_name() -> str:
    """This process in reports: host and process ID (a pod name and its PID in Kubernetes)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _report_id(queue: str, process: str) -> str:
    return f"{queue}@{process}"


async def report(db: Database, process: str, consumers: Sequence[Consumer]) -> None:
    """Record each consumer's state now (one small upsert per consumer)."""
    now = utcnow()
    for consumer in consumers:
        queue = consumer.spec.name
        await db.consumer_reports.update_one(
            {"_id": _report_id(queue, process)},
            {
                "$set": {
                    "queue": queue,
                    "process": process,
                    "trouble": consumer.trouble,
                    "trouble_since": consumer.trouble_since,
                    "reported_at": now,
                }
            },
            upsert=True,
        )


async def withdraw(db: Database, process: str, consumers: Sequence[Consumer]) -> None:
    """Remove this process's reports (it is stopping: its consumers are gone, not stuck)."""
    for consumer in consumers:
        await db.consumer_reports.delete_one({"_id": _report_id(consumer.spec.name, process)})


async def fresh_reports(db: Database, since: datetime) -> list[dict[str, Any]]:
    """Every report written at or after `since`."""
    return await db.consumer_reports.find({"reported_at": {"$gte": since}}).to_list(None)
