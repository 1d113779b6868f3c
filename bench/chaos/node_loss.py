"""A RabbitMQ node lost while changes flow: nothing missing, nothing recorded twice.

Starts three RabbitMQ nodes as a cluster on loopback (`deploy/local/cluster.py`, their own
names, ports, cookie and data: never the shared broker on 5672), a private database, two
partitioned auditor replicas and two notifier replicas connected to all three nodes
(`SECMONKEY_AMQP_URL` with three addresses), a webhook subscription to a receiver on
loopback, and a raw sink on `secmonkey.events`. A publisher sends a new revision of every
group each step; a third of the way through, the node every client is connected to is
killed (SIGKILL), and it is started again two thirds of the way through. Then it counts:

- missing: revisions confirmed by the broker but not recorded;
- duplicated: revisions or events recorded twice, webhook alerts delivered twice (by
  CloudEvents id), and, for information, event messages the raw sink received twice (the
  broker's at-least-once redelivery around the lost node, which the notifier absorbs);

exits 1 if anything is missing or recorded twice. `make chaos-cluster` (part of `make chaos`).

    python bench/chaos/node_loss.py [--steps 30] [--groups 12]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "local"))
sys.path.insert(0, str(ROOT))

import cluster as rabbit_cluster  # noqa: E402

from secmonkey.auditor.app import create_app  # noqa: E402
from secmonkey.auditor.rules.rules_file import load_rules  # noqa: E402
from secmonkey.auditor.settings import Settings  # noqa: E402
from secmonkey.common import amqp, storage  # noqa: E402
from secmonkey.common.canonical import Attachments, CanonicalGroup, GroupSnapshot, Rule  # noqa: E402
from secmonkey.common.documents import Channel, Subscription, SubscriptionFilters  # noqa: E402
from secmonkey.common.messages import EVENTS_EXCHANGE, SNAPSHOTS_EXCHANGE, SnapshotBatch  # noqa: E402
from secmonkey.common.partitions import snapshot_routing_key  # noqa: E402
from secmonkey.notifier.app import create_app as create_notifier  # noqa: E402
from secmonkey.notifier.settings import Settings as NotifierSettings  # noqa: E402
from tests.support.servers import HttpReceiver  # noqa: E402

MONGO_URL = "mongodb://127.0.0.1:27017/"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
PARTITIONS = 4
PLACES = [
    (f"{100000000000 + n}", region) for n in range(3) for region in ("eu-west-1", "us-east-1")
]


def batch(prefix_step: int, account: str, region: str, groups: int) -> SnapshotBatch:
    snaps = []
    for g in range(groups):
        config = CanonicalGroup(
            group_id=f"sg-{int(account) % 1000:03d}{g:014x}",
            name=f"g{g}",
            description="node loss",
            vpc_id="vpc-1",
            owner_id=account,
            tags={},
            rules=[
                Rule(
                    direction="ingress",
                    protocol="tcp",
                    from_port=1000 + prefix_step,
                    to_port=1000 + prefix_step,
                    source_kind="cidr4",
                    source="10.0.0.0/8",
                )
            ],
        )
        snaps.append(GroupSnapshot.of(config, Attachments(interface_count=1)))
    return SnapshotBatch(
        sweep_id=f"step-{prefix_step}",
        account_id=account,
        region=region,
        observed_at=T0 + timedelta(seconds=prefix_step),
        groups=snaps,
    )


async def publish_until_confirmed(
    publisher: amqp.Publisher, key: str, message: SnapshotBatch, mid: str
) -> int:
    """Publish, retrying (the same message id) until the broker confirms; the retries."""
    retries = 0
    while True:
        try:
            await publisher.publish(SNAPSHOTS_EXCHANGE, key, message, message_id=mid)
            return retries
        except Exception as exc:  # the node went away: the connection moves on; send it again
            retries += 1
            if retries % 10 == 1:
                print(f"  publish retried ({exc.__class__.__name__}: {exc})"[:200], flush=True)
            await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> dict[str, object]:
    base = Path(tempfile.mkdtemp(prefix="secmonkey-cluster-"))
    started = time.monotonic()
    cluster = await asyncio.to_thread(
        rabbit_cluster.up, base, args.port, f"nl{uuid.uuid4().hex[:6]}"
    )
    print(f"cluster of three up in {time.monotonic() - started:.0f}s: {cluster.url}", flush=True)
    unique = uuid.uuid4().hex[:8]
    prefix = f"nl{unique}"
    client = storage.connect(MONGO_URL)
    db = client[f"nodeloss_{unique}"]
    seen: Counter[str] = Counter()
    flags: dict[str, list[str]] = {}  # message id -> how each copy came (for the diagnosis)
    apps = []
    try:
        settings = Settings(
            environment="test",
            mongo_url=MONGO_URL,
            mongo_db=db.name,
            amqp_url=cluster.url,
            partitions=PARTITIONS,
            auditor_queue=f"nl.{unique}.snapshots",
            auditor_routing_keys=[f"{prefix}.#"],
            auditor_lease_seconds=6.0,
            auditor_context_ttl=0,
            consumer_report_seconds=0,
        )
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(2):
                app = create_app(settings, load_rules(None))
                await stack.enter_async_context(app.router.lifespan_context(app))
                apps.append(app)
            receiver = HttpReceiver().start()
            stack.callback(receiver.stop)
            sub = Subscription(
                id=f"nl{unique}",
                name="node loss",
                filters=SubscriptionFilters(event_types=["group.created", "group.changed"]),
                channel=Channel(type="generic", url=f"{receiver.url}/hook", secret="k"),
                mode="immediate",
            )
            await db.subscriptions.insert_one(sub.to_mongo())
            notifier_settings = NotifierSettings(
                environment="test",
                mongo_url=MONGO_URL,
                mongo_db=db.name,
                amqp_url=cluster.url,
                partitions=PARTITIONS,
                webhook_allow_http=True,
                webhook_allow_private=True,
                subscription_cache_seconds=0,
                consumer_report_seconds=0,
            )
            spec = amqp.QueueSpec(f"nl.{unique}.notify", EVENTS_EXCHANGE, ("group.#",))
            for _ in range(2):
                notifier = create_notifier(notifier_settings, queue=spec)
                await stack.enter_async_context(notifier.router.lifespan_context(notifier))
            sink_conn = await amqp.connect(cluster.url)
            stack.push_async_callback(sink_conn.close)
            channel = await sink_conn.channel()
            await amqp.declare_exchanges(channel)
            sink = await channel.declare_queue(
                f"nl.{unique}.events", durable=True, arguments={"x-queue-type": "quorum"}
            )
            await sink.bind(EVENTS_EXCHANGE, routing_key="group.#")

            async def on_event(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                mid = message.message_id or ""
                seen[mid] += 1
                headers = message.headers or {}
                how = "redelivered" if message.redelivered else "first"
                if headers.get(amqp.REPUBLISHED_HEADER):
                    how += "+republished"
                flags.setdefault(mid, []).append(f"{how}@{time.monotonic() - started:.1f}s")
                await message.ack()

            await sink.consume(on_event)
            pub_conn = await amqp.connect(cluster.url)
            stack.push_async_callback(pub_conn.close)
            publisher = await amqp.Publisher.open(pub_conn, deadline=5.0)
            retries = 0
            killed = restarted = None
            for step in range(1, args.steps + 1):
                if step == args.steps // 3:
                    print(f"step {step}: killing node 1 (every client's node)", flush=True)
                    cluster.stop_node(1)
                    killed = time.monotonic()
                if step == 2 * args.steps // 3:
                    print(f"step {step}: starting node 1 again", flush=True)
                    await asyncio.to_thread(cluster.start_node, 1)
                    restarted = time.monotonic()
                for account, region in PLACES:
                    key = snapshot_routing_key(prefix, account, region, PARTITIONS)
                    message = batch(step, account, region, args.groups)
                    mid = f"{step}:{account}:{region}"
                    retries += await publish_until_confirmed(publisher, key, message, mid)
            expected = args.steps * len(PLACES) * args.groups
            deadline = time.monotonic() + args.catchup
            while time.monotonic() < deadline:
                stored = await db.revisions.count_documents({})
                alerted = len({r.json()["id"] for r in list(receiver.received)})
                if stored >= expected and len(seen) >= expected and alerted >= expected:
                    break
                print(
                    f"  {stored}/{expected} revisions, {len(seen)} events seen, {alerted} alerted",
                    flush=True,
                )
                await asyncio.sleep(2)
            await asyncio.sleep(3)  # late duplicates, if any, arrive now
            stored = await db.revisions.count_documents({})
            rows = await db.revisions.find({}, {"key": 1, "seq": 1}).to_list(None)
            distinct = len({d["_id"] for d in rows})  # (FerretDB refuses distinct's maxTimeMS)
            queued = 0
            depth = await sink_conn.channel()
            for _, spec in amqp.auditor_queues(PARTITIONS, amqp.QueueSpec(settings.auditor_queue)):
                queue = await depth.declare_queue(spec.name, passive=True)
                queued += queue.declaration_result.message_count or 0
            pairs = Counter((d["key"], d["seq"]) for d in rows)
            events = await db.events.count_documents(
                {"type": {"$in": ["group.created", "group.changed"]}}
            )
            alerts = Counter(r.json()["id"] for r in list(receiver.received))
            stored_ids = {
                d["event_id"]
                for d in await db.events.find(
                    {"type": {"$in": ["group.created", "group.changed"]}}, {"event_id": 1}
                ).to_list(None)
            }
            await explain(db, receiver, alerts, stored_ids, flags, started, sub.id)
            result = {
                "steps": args.steps,
                "expected_revisions": expected,
                "revisions_recorded": stored,
                "missing": max(0, expected - distinct),
                "still_queued_messages": queued,
                "duplicated_revisions": sum(n - 1 for n in pairs.values() if n > 1),
                "group_events_recorded": events,
                "duplicated_events": max(0, events - expected),
                "event_messages_received": sum(seen.values()),
                "event_messages_missing": expected - len(seen),
                "event_messages_delivered_twice": sum(n - 1 for n in seen.values() if n > 1),
                "alerts_missing": len(stored_ids - set(alerts)),
                "alerts_duplicated": sum(n - 1 for n in alerts.values() if n > 1),
                "publish_retries": retries,
                "node_down_seconds": round((restarted or 0) - (killed or 0), 1),
            }
            return result
    finally:
        await client.drop_database(db.name)
        await client.close()
        await asyncio.to_thread(cluster.down)


async def explain(
    db: storage.Database,
    receiver: HttpReceiver,
    alerts: Counter[str],
    stored_ids: set[str],
    flags: dict[str, list[str]],
    started: float,
    subscription: str,
) -> None:
    """For every alert delivered twice or never: its arrivals, how the raw sink got the
    event, and the notifier's delivery record (what the counts alone do not say)."""
    odd = sorted({e for e, n in alerts.items() if n > 1} | (stored_ids - set(alerts)))
    offset = time.time() - (time.monotonic() - started)  # wall clock of `started`
    for event_id in odd[:20]:
        arrivals = [
            f"{r.at - offset:.1f}s" for r in list(receiver.received) if r.json()["id"] == event_id
        ]
        record = await db.deliveries.find_one({"_id": f"{event_id}:{subscription}"})
        attempts = [
            (a.get("outcome"), str(a.get("at"))[11:23]) for a in (record or {}).get("attempts", [])
        ]
        print(
            f"  {event_id}: alerts at {arrivals or 'never'}; sink: {flags.get(event_id)}; "
            f"delivery: {(record or {}).get('status')} {attempts}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--port", type=int, default=5761)
    parser.add_argument(
        "--catchup", type=float, default=900, help="seconds to wait for the backlog after"
    )
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    bad = any(
        result[k]
        for k in (
            "missing",
            "duplicated_revisions",
            "duplicated_events",
            "alerts_missing",
            "alerts_duplicated",
        )
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
