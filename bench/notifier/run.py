"""Notifier benchmark: publish → webhook receipt latency, and events per second.

The notifier runs as deployed (`python -m secmonkey.notifier`, its own process) on a
fresh database and a fresh queue, with one immediate `generic` webhook subscription to
a receiver in a third process. Events are published on `secmonkey.events` with the
routing key `<type>.<run id>` and the queue is bound to `#.<run id>` only: bound to `#`
it would also receive every event other tests and benchmarks on this machine publish,
and the figures would measure their traffic rather than the notifier.

Two runs of 1,000 events each:
- steady: published at a fixed rate (default 100/s), latency from publish to receipt
  (p50 / p95 / max) — the figure the goal is about (the RESULT line);
- burst: all published at once, which measures throughput (events per second) and
  shows the queueing latency of a backlog.

Run: `make bench-notifier` (or `uv run --frozen python bench/notifier/run.py --rate 100`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from secmonkey.common import amqp, storage
from secmonkey.common.documents import Channel, Subscription, SubscriptionFilters
from secmonkey.common.messages import EVENTS_EXCHANGE, Event, IssueRef
from secmonkey.common.severity import Severity

GOAL_P95_MS = 250.0
HERE = Path(__file__).resolve().parent
MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ACCOUNT = "999900001111"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_event(i: int, run: str) -> Event:
    return Event(
        event_id=f"{run}-{i:05d}-{uuid.uuid4().hex[:8]}",
        type="issue.opened",
        key=f"aws:{ACCOUNT}:us-east-1:sg-{i:08x}",
        account_id=ACCOUNT,
        account_name="bench",
        region="us-east-1",
        vpc_id="vpc-bench",
        group_id=f"sg-{i:08x}",
        name=f"bench-{i}",
        at=datetime.now(UTC),
        seq=1,
        changes=["ingress tcp/22 from 0.0.0.0/0 added"],
        issue=IssueRef(
            issue_id=uuid.uuid4().hex,
            rule_id="internet-admin-port",
            severity=Severity.HIGH,
            message="tcp/22 opened to 0.0.0.0/0",
            status="open",
        ),
    )


@dataclass
class Receipts:
    at: dict[str, float] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            event_id, _, when = line.decode().strip().partition(" ")
            self.at.setdefault(event_id, float(when))
            self.arrived.set()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def wait_for(receipts: Receipts, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(i in receipts.at for i in ids):
        receipts.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(receipts.arrived.wait(), timeout=0.5)


async def run_phase(
    name: str,
    publisher: amqp.Publisher,
    receipts: Receipts,
    count: int,
    rate: float | None,
    suffix: str,
) -> dict[str, float]:
    events = [make_event(i, name) for i in range(count)]
    published: dict[str, float] = {}
    start = time.monotonic()
    pending: list[asyncio.Task[None]] = []
    for i, event in enumerate(events):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        published[event.event_id] = time.time()
        pending.append(
            asyncio.create_task(
                publisher.publish(
                    EVENTS_EXCHANGE, f"{event.type}.{suffix}", event, message_id=event.event_id
                )
            )
        )
    await asyncio.gather(*pending)
    await wait_for(receipts, list(published), timeout=180)
    got = [i for i in published if i in receipts.at]
    latencies = [(receipts.at[i] - published[i]) * 1000 for i in got]
    first = min(published.values())
    last = max(receipts.at[i] for i in got) if got else first
    return {
        "sent": count,
        "received": len(got),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": percentile(latencies, 95) if latencies else float("nan"),
        "max": max(latencies) if latencies else float("nan"),
        "eps": len(got) / (last - first) if last > first else float("nan"),
        "publish_s": max(published.values()) - first,
    }


async def probe_database(db: storage.Database) -> tuple[float, float]:
    """Median ms of one `update_one` and one `insert_one` by `_id`: how busy the database is."""
    probe = db.bench_probe
    await probe.insert_one({"_id": "p", "n": 0})
    updates, inserts = [], []
    for i in range(30):
        started = time.perf_counter()
        await probe.update_one({"_id": "p"}, {"$set": {"n": i}})
        updates.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await probe.insert_one({"_id": f"i{i}", "x": "y" * 2000})
        inserts.append((time.perf_counter() - started) * 1000)
    await probe.drop()
    return statistics.median(updates), statistics.median(inserts)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="steady phase, events/s")
    args = parser.parse_args()

    run = uuid.uuid4().hex[:10]
    db_name, queue = f"bench_notifier_{run}", f"bench.notifier.{run}"
    suffix = f"bench{run}"
    client = storage.connect(MONGO_URL)
    db = client[db_name]
    await storage.ensure_indexes(db)
    rabbit = await amqp.connect(AMQP_URL)
    publisher = await amqp.Publisher.open(rabbit)
    log_path = Path(tempfile.gettempdir()) / f"bench-notifier-{run}.log"
    processes: list[subprocess.Popen[bytes]] = []
    receiver_proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "receiver.py"), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert receiver_proc.stdout is not None
        port_line = (await receiver_proc.stdout.readline()).decode().split()
        receiver_url = f"http://127.0.0.1:{port_line[1]}/hook"
        receipts = Receipts()
        follower = asyncio.create_task(receipts.follow(receiver_proc.stdout))

        subscription = Subscription(
            id=f"bench-{run}",
            name="benchmark",
            filters=SubscriptionFilters(account_ids=[ACCOUNT]),
            channel=Channel(type="generic", url=receiver_url, secret="bench-signing-secret"),
        )
        await db.subscriptions.insert_one(subscription.to_mongo())

        port = free_port()
        env = {
            **os.environ,
            "SECMONKEY_MONGO_URL": MONGO_URL,
            "SECMONKEY_AMQP_URL": AMQP_URL,
            "SECMONKEY_MONGO_DB": db_name,
            "SECMONKEY_QUEUE": queue,
            "SECMONKEY_QUEUE_BINDINGS": f'["#.{suffix}"]',
            "SECMONKEY_PORT": str(port),
            "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
            "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
            "SECMONKEY_LOG_LEVEL": "WARNING",
        }
        with log_path.open("wb") as log_file:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "secmonkey.notifier"],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                )
            )
        async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline or processes[0].poll() is not None:
                    raise SystemExit(f"the notifier did not become ready; see {log_path}")
                await asyncio.sleep(0.2)

        before = await probe_database(db)
        # warm-up: connections, caches, cold SQLite pages
        await run_phase("warmup", publisher, receipts, 50, rate=50, suffix=suffix)
        steady = await run_phase(
            "steady", publisher, receipts, args.events, rate=args.rate, suffix=suffix
        )
        burst = await run_phase("burst", publisher, receipts, args.events, rate=None, suffix=suffix)
        after = await probe_database(db)
        follower.cancel()

        print(f"notifier benchmark: {args.events} events per run, one immediate generic webhook")
        print(f"  (MongoDB-protocol server + RabbitMQ on loopback, {os.cpu_count()} cores)")
        print(
            "  database at rest, before/after: update_one "
            f"{before[0]:.1f}/{after[0]:.1f} ms, insert_one {before[1]:.1f}/{after[1]:.1f} ms "
            "(shared with whatever else runs on this machine)"
        )
        for label, r in (
            (f"steady {args.rate:.0f}/s", steady),
            ("burst (all at once)", burst),
        ):
            print(
                f"  {label:<20} received {r['received']:.0f}/{r['sent']:.0f}  "
                f"p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  max {r['max']:.1f} ms  "
                f"{r['eps']:.0f} events/s  (published in {r['publish_s']:.2f}s)"
            )
        verdict = "meets" if steady["p95"] <= GOAL_P95_MS else "misses"
        print(f"  goal: p95 <= {GOAL_P95_MS:.0f} ms at a steady rate -> {verdict} the goal")
        print(f"RESULT notifier_p95_ms={steady['p95']:.1f} goal<={GOAL_P95_MS:.0f}")
    finally:
        for process in processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        receiver_proc.terminate()
        await receiver_proc.wait()
        await publisher.close()
        channel = await rabbit.channel()
        for name in (queue, f"{queue}.dead", f"{queue}.undelivered"):
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
        await rabbit.close()
        await client.drop_database(db_name)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
