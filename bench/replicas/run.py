"""Benchmark: auditor groups per second with 1, 2 and 3 replicas on the same backlog.

For each replica count: a fresh database and RabbitMQ virtual host, that many
`python -m secmonkey.auditor` processes (partitioned, `--partitions` queues) started and
waited for until every partition is held; then the same backlog (`--places`
account-regions of `--groups` new groups each, `--batch` per message) is published and
timed until every group's first revision is stored. Prints groups/s per count; never
asserts. On FerretDB (SQLite: one writer) more processes mostly share the one writer;
on MongoDB each replica's writes go in parallel.

    python bench/replicas/run.py [--replicas 1 2 3] [--places 16] [--groups 150]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
sys.path.insert(0, str(ROOT))

import vhosts  # noqa: E402

from bench.harness import Processes, free_port  # noqa: E402
from secmonkey.common import amqp, storage  # noqa: E402
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule  # noqa: E402
from secmonkey.common.messages import SNAPSHOTS_EXCHANGE, SnapshotBatch  # noqa: E402
from secmonkey.common.partitions import snapshot_routing_key  # noqa: E402

MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", vhosts.DEFAULT_URL)
T0 = datetime(2026, 6, 1, tzinfo=UTC)
SOURCES = ["0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16", "203.0.113.0/24", "172.16.0.0/12"]


def place_groups(place: int, account: str, count: int) -> list[GroupSnapshot]:
    groups = []
    for g in range(count):
        rules = [
            Rule(
                direction="ingress",
                protocol="tcp",
                from_port=port,
                to_port=port,
                source_kind="cidr4",
                source=SOURCES[(g + n) % len(SOURCES)],
            )
            for n, port in enumerate((22, 443, 5432, 8000 + g % 50))
        ]
        config = CanonicalGroup(
            group_id=f"sg-{place:04x}{g:013x}",
            name=f"group-{place}-{g}",
            description="bench",
            vpc_id="vpc-1",
            owner_id=account,
            tags={},
            rules=rules,
        )
        groups.append(GroupSnapshot.of(config, Attachments(interface_count=1)))
    return groups


def backlog(
    args: argparse.Namespace, prefix: str, at: datetime = T0
) -> list[tuple[str, SnapshotBatch, str]]:
    messages = []
    for place in range(args.places):
        account, region = f"{200000000000 + place // 2}", ("eu-west-1", "us-east-1")[place % 2]
        groups = place_groups(place, account, args.groups)
        for start in range(0, len(groups), args.batch):
            batch = SnapshotBatch(
                sweep_id=f"bench-{at:%H%M}",
                account_id=account,
                region=region,
                observed_at=at,
                groups=groups[start : start + args.batch],
            )
            key = snapshot_routing_key(prefix, account, region, args.partitions)
            messages.append((key, batch, f"{at:%H%M}:{place}:{start}"))
    return messages


async def one_count(replicas: int, args: argparse.Namespace, logs: Path) -> tuple[float, float]:
    unique = uuid.uuid4().hex[:8]
    vhost = f"bench-replicas-{unique}"
    url = vhosts.create(vhost, AMQP_URL)
    prefix = f"br{unique}"
    client = storage.connect(MONGO_URL)
    db = client[f"bench_replicas_{unique}"]
    procs = Processes(logs / f"{replicas}")
    try:
        await storage.ensure_indexes(db)
        env = {
            "SECMONKEY_ENVIRONMENT": "test",
            "SECMONKEY_MONGO_URL": MONGO_URL,
            "SECMONKEY_MONGO_DB": db.name,
            "SECMONKEY_AMQP_URL": url,
            "SECMONKEY_PARTITIONS": str(args.partitions),
            "SECMONKEY_AUDITOR_QUEUE": "bench.snapshots",
            "SECMONKEY_AUDITOR_ROUTING_KEYS": json.dumps([f"{prefix}.#"]),
            "SECMONKEY_AUDITOR_LEASE_SECONDS": "6",
            "SECMONKEY_AUDITOR_PUBLISH_EVENTS": "true",
            "SECMONKEY_PREFETCH": str(args.prefetch),
            "SECMONKEY_LOG_LEVEL": "WARNING",
        }
        for n in range(replicas):
            env_n = {**env, "SECMONKEY_AUDITOR_PORT": str(free_port())}
            procs.spawn(f"auditor{n}", [sys.executable, "-m", "secmonkey.auditor"], env_n)
        share = -(-args.partitions // replicas)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # every partition held, each replica its share
            now = datetime.now(UTC)
            live = await db.auditor_leases.find({"expires_at": {"$gt": now}}).to_list(None)
            holders: dict[str, int] = {}
            for lease in live:
                if lease["lease"].startswith("partition:") and lease["lease"] != "partition:legacy":
                    holders[lease["holder"]] = holders.get(lease["holder"], 0) + 1
            shared = len(holders) == replicas and sum(holders.values()) == args.partitions
            if shared and max(holders.values()) <= share:
                break
            assert not procs.crashed(), f"an auditor exited; see {logs}"
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError("partitions were not shared out in time")
        total = args.places * args.groups
        rabbit = await amqp.connect(url)
        publisher = await amqp.Publisher.open(rabbit)
        # 1. first sight: a revision, issues, events and search lookups per group
        started = time.perf_counter()
        await publisher.publish_many(SNAPSHOTS_EXCHANGE, backlog(args, prefix))
        while await db.items.count_documents({}) < total:
            assert not procs.crashed(), f"an auditor exited; see {logs}"
            await asyncio.sleep(0.2)
        first = total / (time.perf_counter() - started)
        # 2. the same groups unchanged (the hot path: last_seen moves)
        later = T0 + timedelta(hours=1)
        started = time.perf_counter()
        await publisher.publish_many(SNAPSHOTS_EXCHANGE, backlog(args, prefix, later))
        while await db.items.count_documents({"last_seen": later}) < total:
            assert not procs.crashed(), f"an auditor exited; see {logs}"
            await asyncio.sleep(0.2)
        unchanged = total / (time.perf_counter() - started)
        await rabbit.close()
        return first, unchanged
    finally:
        procs.stop_all()
        await client.drop_database(db.name)
        await client.close()
        vhosts.delete(vhost)


async def run(args: argparse.Namespace) -> None:
    logs = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    results = {}
    for replicas in args.replicas:
        first, unchanged = await one_count(replicas, args, logs)
        results[replicas] = (first, unchanged)
        print(
            f"auditors={replicas} groups={args.places * args.groups} "
            f"first_sight_gps={first:.0f} unchanged_gps={unchanged:.0f}",
            flush=True,
        )
    line = " ".join(f"auditors_{n}={f:.0f}/{u:.0f}" for n, (f, u) in results.items())
    print(
        f"RESULT groups_per_second(first_sight/unchanged) {line} "
        f"partitions={args.partitions} (logs: {logs})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--places", type=int, default=16)
    parser.add_argument("--groups", type=int, default=150)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--prefetch", type=int, default=1)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
