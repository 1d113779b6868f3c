"""What the watchdog looks at, as observations of conditions (`episodes.Observation`).

- **Sweeps**: each monitored account's latest complete sweep (`sweeps`, `complete:<id>`,
  written by the sweeper) against `SECMONKEY_WATCHDOG_OVERDUE_INTERVALS` of its interval;
  an account never swept completely counts from when the watchdog first saw it.
- **Queues**: the depth of each watched queue's dead-letter queue (`<queue>.dead`) and of
  the notifier's undelivered queue, by a passive declare (nothing is created or read).
- **Consumers**: each watched queue's consumers: the fresh reports of every process
  (`secmonkey.common.consumer_reports`: the trouble a consumer waits out, and since
  when), and the broker's consumer count (no consumer at all is not ready either).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aio_pika.exceptions import ChannelNotFoundEntity

from secmonkey.collector import metrics, sweep_status
from secmonkey.collector.scheduler import sweep_interval
from secmonkey.collector.settings import Settings
from secmonkey.collector.watchdog.episodes import Observation, State, when
from secmonkey.common import accounts, consumer_reports
from secmonkey.common.severity import Severity
from secmonkey.common.storage import Database

OVERDUE = "system.sweep_overdue"
DEAD_LETTERS = "system.dead_letters_growing"
UNDELIVERED = "system.undelivered_growing"
NOT_READY = "system.consumer_not_ready"


@dataclass(frozen=True)
class QueueReading:
    messages: int | None  # None: the queue does not exist
    consumers: int | None


def _minutes(interval: timedelta) -> str:
    minutes = interval.total_seconds() / 60
    return f"{minutes:g} minute{'' if minutes == 1 else 's'}"


async def sweeps(
    db: Database, settings: Settings, states: dict[str, State], now: datetime
) -> list[Observation]:
    """One observation per monitored account: overdue, or swept in time."""
    monitored = await accounts.monitored_accounts(db)
    last = await sweep_status.last_complete(db, [a.id for a in monitored])
    found = []
    for account in monitored:
        key = f"system:sweep:{account.id}"
        state = states.get(key)
        reference = last.get(account.id) or (state.first_seen if state else now)
        interval = sweep_interval(settings, account)
        due = reference + interval * settings.watchdog_overdue_intervals
        if account.id in last:
            detail = f"last complete sweep at {when(reference)}"
        else:
            detail = f"no complete sweep since watching began at {when(reference)}"
        if now > due:
            intervals = settings.watchdog_overdue_intervals
            detail += f": more than {intervals:g} intervals of {_minutes(interval)}"
        found.append(
            Observation(
                key=key,
                condition=OVERDUE,
                subject=f"account {account.name} ({account.id})",
                detail=detail,
                severity=Severity.HIGH,
                bad=now > due,
                since=due,
                account_id=account.id,
                account_name=account.name,
            )
        )
    return found


async def read_queues(
    connection: AbstractRobustConnection, names: list[str]
) -> dict[str, QueueReading]:
    """Depth and consumer count of each queue (a missing one reads as None)."""
    readings: dict[str, QueueReading] = {}
    channel: AbstractChannel = await connection.channel()
    try:
        for name in dict.fromkeys(names):
            try:
                queue = await channel.declare_queue(name, passive=True)
            except ChannelNotFoundEntity:
                readings[name] = QueueReading(None, None)
                channel = await connection.channel()  # the broker closed the other one
                continue
            result = queue.declaration_result
            readings[name] = QueueReading(result.message_count, result.consumer_count)
    finally:
        with contextlib.suppress(Exception):
            await channel.close()
    return readings


def growing_queues(settings: Settings, readings: dict[str, QueueReading]) -> list[Observation]:
    """Dead-letter and undelivered queues, each a growth condition on its depth."""
    watched = [(f"{q}.dead", DEAD_LETTERS, Severity.MEDIUM) for q in settings.watched_queues]
    watched += [(q, UNDELIVERED, Severity.HIGH) for q in settings.watchdog_undelivered_queues]
    found = []
    for name, condition, severity in watched:
        depth = readings.get(name, QueueReading(None, None)).messages or 0
        metrics.WATCHED_QUEUE_MESSAGES.labels(name).set(depth)
        what = "dead letters" if condition == DEAD_LETTERS else "alerts that finally failed"
        found.append(
            Observation(
                key=f"system:queue:{name}",
                condition=condition,
                subject=f"queue {name}",
                detail=f"It holds {what}: list, fix and replay them.",
                severity=severity,
                settle=settings.watchdog_grace_seconds,
                depth=depth,
            )
        )
    return found


async def consumers(
    db: Database, settings: Settings, readings: dict[str, QueueReading], now: datetime
) -> list[Observation]:
    """Each watched queue's consumers: a report of trouble, or no consumer at all."""
    fresh_for = max(3 * settings.consumer_report_seconds, 60.0)
    reports = await consumer_reports.fresh_reports(db, now - timedelta(seconds=fresh_for))
    found = []
    for queue in settings.watched_queues:
        troubled = [r for r in reports if r.get("queue") == queue and r.get("trouble")]
        count = readings.get(queue, QueueReading(None, None)).consumers or 0
        since = None
        if troubled:
            starts = [r["trouble_since"] for r in troubled if r.get("trouble_since")]
            since = min(starts) if starts else None
            first = troubled[0]
            detail = f"{first.get('process')}: {first['trouble']}"
            if len(troubled) > 1:
                detail += f" (and {len(troubled) - 1} more consumer(s) in trouble)"
        elif count == 0:
            detail = "no consumer is attached to the queue"
        else:
            detail = f"{count} consumer(s), ready"
        found.append(
            Observation(
                key=f"system:consumer:{queue}",
                condition=NOT_READY,
                subject=f"consumers of {queue}",
                detail=detail,
                severity=Severity.HIGH,
                bad=bool(troubled) or count == 0,
                since=since,
                grace=settings.watchdog_grace_seconds,
            )
        )
    return found
