"""Benchmark: the auditor's hot path against the floor, on the local servers.

One estate of `--groups` security groups (one account, one region) is swept four times,
`--batch` groups per SnapshotBatch, every message published to a fresh queue before its
consumer starts, then consumed with `common.amqp.Consumer` (prefetch `--prefetch`):

1. populate: the auditor sees every group for the first time (revisions, issues, events);
2. floor: the same messages, and per batch one bulk write moving `last_seen` of every
   group — parsing and one write, no reads, no logic;
3. (a) unchanged: the auditor on the same groups again;
4. (b) 1 % changed: the auditor with one group in a hundred given a new rule.

Groups per second for each; the ratio of (a) to the floor is the figure of merit (goal
at least 0.5).

Batches are 50 groups by default, not the collector's 200: FerretDB 1.24 keeps one
SQLite connection per matched document open until an update command ends and has 100
per database, so the floor's single update command of 200 matched documents never
returns there (the auditor itself writes in chunks of 50). For the same reason the
consumers take one message at a time (`--prefetch 1`): concurrent update commands on
one FerretDB database can exhaust that pool together.

Scale: the default 50,000 groups runs in about 20 minutes on FerretDB here. (Before
deploy/local/mongo-compat indexed the expression FerretDB 1.24 pushes `{_id}` lookups
down to, every update there scanned the collection and a 50,000-group sweep would have
taken days.) On MongoDB the lookups are indexed anyway, and the default size is the
intended one. Timings are printed, never asserted. The last line is
`RESULT auditor_unchanged_vs_floor=<x> goal>=0.5 unchanged_gps=<a> changed_gps=<b> floor_gps=<f>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pymongo import UpdateOne

from secmonkey.auditor.consumer import SnapshotHandler
from secmonkey.auditor.pipeline import Auditor
from secmonkey.auditor.rules.rules_file import RulesConfig
from secmonkey.common import amqp, storage
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule
from secmonkey.common.item_keys import item_key
from secmonkey.common.messages import SnapshotBatch, parse_snapshot_message
from secmonkey.common.storage import Database

ACCOUNT = "111111111111"
REGION = "us-east-1"
MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def estate(count: int, seed: int = 7) -> list[GroupSnapshot]:
    """Groups shaped like a real estate: a few rules each, some open, most attached."""
    rng = random.Random(seed)
    groups = []
    for i in range(count):
        rules = [
            Rule(direction="egress", protocol="-1", source_kind="cidr4", source="0.0.0.0/0"),
            Rule(
                direction="ingress",
                protocol="tcp",
                from_port=443,
                to_port=443,
                source_kind="cidr4",
                source=f"10.{i % 256}.0.0/16",
                description="internal https",
            ),
            Rule(
                direction="ingress",
                protocol="tcp",
                from_port=8080,
                to_port=8080,
                source_kind="group",
                source=f"sg-{(i * 7919) % count:08x}",
                source_account=ACCOUNT,
            ),
        ]
        if rng.random() < 0.2:
            rules.append(
                Rule(
                    direction="ingress",
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    source_kind="cidr4",
                    source="0.0.0.0/0",
                )
            )
        if rng.random() < 0.05:
            rules.append(
                Rule(
                    direction="ingress",
                    protocol="tcp",
                    from_port=22,
                    to_port=22,
                    source_kind="cidr6",
                    source="::/0",
                )
            )
        config = CanonicalGroup(
            group_id=f"sg-{i:08x}",
            name=f"service-{i}",
            description="bench group",
            vpc_id=f"vpc-{i % 20:04x}",
            owner_id=ACCOUNT,
            tags={"Owner": f"team-{i % 40}", "Env": "prod" if i % 3 else "staging"},
            rules=rules,
        )
        attached = rng.random() < 0.8
        attachments = Attachments(
            interface_count=2 if attached else 0,
            interface_types=["interface"] if attached else [],
            public_ip=attached and rng.random() < 0.1,
        )
        groups.append(GroupSnapshot.of(config, attachments))
    return groups


def changed(groups: list[GroupSnapshot], every: int = 100) -> list[GroupSnapshot]:
    out = []
    for i, snapshot in enumerate(groups):
        if i % every == every // 2:
            extra = Rule(
                direction="ingress",
                protocol="tcp",
                from_port=5432,
                to_port=5432,
                source_kind="cidr4",
                source="192.168.0.0/16",
            )
            config = snapshot.config.model_copy(update={"rules": [*snapshot.config.rules, extra]})
            snapshot = GroupSnapshot.of(config, snapshot.attachments)
        out.append(snapshot)
    return out


def sweep(groups: list[GroupSnapshot], at: datetime, batch: int) -> list[bytes]:
    sweep_id = uuid.uuid4().hex
    return [
        amqp.encode(
            SnapshotBatch(
                sweep_id=sweep_id,
                account_id=ACCOUNT,
                region=REGION,
                observed_at=at,
                groups=groups[i : i + batch],
            )
        )
        for i in range(0, len(groups), batch)
    ]


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


async def consume(
    rabbit: AbstractRobustConnection,
    name: str,
    bodies: list[bytes],
    handler: Handler,
    prefetch: int,
) -> float:
    """Publish `bodies` to a fresh queue, then time consuming all of them with `handler`."""
    spec = amqp.QueueSpec(name)
    channel = await rabbit.channel()
    await amqp.declare_queue(channel, spec)
    publisher = await amqp.Publisher.open(rabbit)
    for i in range(0, len(bodies), 50):
        await publisher.publish_many("", [(name, body, None) for body in bodies[i : i + 50]])
    await publisher.close()
    done = asyncio.Event()
    count = 0

    async def counted(message: AbstractIncomingMessage) -> None:
        nonlocal count
        await handler(message)
        count += 1
        if count == len(bodies):
            done.set()

    consumer = amqp.Consumer(rabbit, spec, counted, prefetch=prefetch)
    started = time.perf_counter()
    await consumer.start()
    await done.wait()
    elapsed = time.perf_counter() - started
    await consumer.stop()
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()
    return elapsed


def floor_handler(db: Database) -> Handler:
    async def handle(message: AbstractIncomingMessage) -> None:
        batch = parse_snapshot_message(message.body)
        assert isinstance(batch, SnapshotBatch)
        ops = [
            UpdateOne(
                {"_id": item_key(batch.account_id, batch.region, g.config.group_id)},
                {"$set": {"last_seen": batch.observed_at}},
            )
            for g in batch.groups
        ]
        await db.items.bulk_write(ops, ordered=False)

    return handle


async def run(args: argparse.Namespace) -> None:
    name = f"bench_auditor_{uuid.uuid4().hex[:8]}"
    client = storage.connect(MONGO_URL, operation_timeout_seconds=None, socketTimeoutMS=600_000)
    await storage.detect(client)
    db = client[name]
    rabbit = await amqp.connect(AMQP_URL)
    try:
        await storage.ensure_indexes(db)
        auditor = Auditor(db, RulesConfig(), None, context_ttl=5.0)
        handler = SnapshotHandler(auditor)
        groups = estate(args.groups)
        n = len(groups)
        t0 = datetime.now(UTC).replace(microsecond=0)
        print(f"estate: {n:,} groups, {args.batch} per batch, prefetch {args.prefetch}", flush=True)

        async def phase(label: str, bodies: list[bytes], h: Handler) -> float:
            seconds = await consume(
                rabbit, f"bench.auditor.{name}.{label}", bodies, h, args.prefetch
            )
            print(f"{label:<12} {seconds:8.1f} s  {n / seconds:9.0f} groups/s", flush=True)
            return n / seconds

        await phase("populate", sweep(groups, t0, args.batch), handler)
        floor = await phase(
            "floor", sweep(groups, t0 + timedelta(minutes=1), args.batch), floor_handler(db)
        )
        unchanged = await phase(
            "unchanged", sweep(groups, t0 + timedelta(minutes=2), args.batch), handler
        )
        modified = changed(groups)
        changed_gps = await phase(
            "changed-1pc", sweep(modified, t0 + timedelta(minutes=3), args.batch), handler
        )
        revisions = await db.revisions.count_documents({"change_type": "changed"})
        print(f"changed revisions recorded: {revisions:,} (expected {n // 100:,})")
        ratio = unchanged / floor
        print(f"(a) unchanged / floor = {ratio:.2f} (goal >= 0.5)")
        print(
            f"RESULT auditor_unchanged_vs_floor={ratio:.2f} goal>=0.5 "
            f"unchanged_gps={unchanged:.0f} changed_gps={changed_gps:.0f} floor_gps={floor:.0f}"
        )
    finally:
        await rabbit.close()
        await client.drop_database(name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--prefetch", type=int, default=1)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
