"""Real-time benchmark: from a CloudTrail event on the SQS queue to the webhook alert.

The whole pipeline on loopback, each part its own process as deployed:
moto (`python -m moto.server`: EC2, STS, SQS), the collector with events on
(`python -m secmonkey.collector`), the auditor (`python -m secmonkey.auditor`), the
notifier (`python -m secmonkey.notifier`) with a generic webhook subscription to a local
receiver (bench/realtime/receiver.py, its own process too).

One monitored account (reached by AssumeRole) with `--groups` groups over two regions is
swept once as the baseline. Then `--changes` changes, one every `--interval` seconds
(default 0.25 s, alternating regions, so each window holds several changes),
each on its own group: the rule `tcp/22 from 0.0.0.0/0` is authorized in moto, and the
recorded-shape CloudTrail event of that call is sent to the SQS queue (the time just
before the send is the start). The end is when the receiver gets the `group.changed`
alert for that group. The coalescing window (default 2 s) is included. Taps on the
two exchanges split the time into: send → snapshot published (SQS wait, window,
describe), → `group.changed` published (auditor), → webhook received (notifier).
The services share the machine's one MongoDB-protocol server (FerretDB over SQLite)
with whatever else runs: figures vary with that load.

Run: `make bench-realtime` (or `uv run --frozen python bench/realtime/run.py --changes 50`).
Goals (issue #18): p95 <= 500 ms at 4 changes/s (the default `--interval 0.25`) and
<= 1000 ms at 10 changes/s (`--interval 0.1`). A call on a quiet group is described at
once (the leading edge); the bench prints how many describes each change cost.
The last line is `RESULT realtime_p95_ms=<x> goal<=<500|1000> describes_per_change=<y>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness import Processes, free_port, percentile, wait_port  # noqa: E402
from secmonkey.collector.simulate import (  # noqa: E402
    EXTERNAL_ID,
    create_monitor_role,
    ec2_client,
    role_arn,
)
from secmonkey.common import amqp, storage  # noqa: E402
from secmonkey.common.documents import Account, Channel, Subscription, SubscriptionFilters  # noqa: E402
from secmonkey.common.messages import EVENTS_EXCHANGE, SNAPSHOTS_EXCHANGE  # noqa: E402
from tests.integration.realtime.cloudtrail import recorded  # noqa: E402

HERE = Path(__file__).resolve().parent
GOALS_P95_MS = ((4.0, 500.0), (10.0, 1000.0))  # (changes per second up to, goal)


def goal_for(rate: float) -> float:
    return next((goal for top, goal in GOALS_P95_MS if rate <= top + 1e-9), GOALS_P95_MS[-1][1])


async def describe_counts(port: int) -> tuple[float, float]:
    """(describes made, of which leading) from the collector's metrics."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    made = leading = 0.0
    for line in text.splitlines():
        if line.startswith('secmonkey_collector_event_describes_total{outcome="ok"}'):
            made = float(line.split()[-1])
        elif line.startswith("secmonkey_collector_event_leading_total "):
            leading = float(line.split()[-1])
    return made, leading


MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REGIONS = ("us-east-1", "eu-west-1")
ACCOUNT = "314159265358"
SECRET = "bench-realtime-webhook-secret-0123456789"
CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16)


class Pipeline:
    """Starts and stops every process of the benchmark."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.suffix = uuid.uuid4().hex[:8]
        self.db_name = f"bench_realtime_{self.suffix}"
        self.prefix = f"bench-{self.suffix}"
        self.auditor_queue = f"bench.auditor.{self.suffix}"
        self.notifier_queue = f"bench.notifier.{self.suffix}"
        self.sweeps_queue = f"bench.sweeps.{self.suffix}"
        self.moto_port = free_port()
        self.moto_url = f"http://127.0.0.1:{self.moto_port}"
        self.collector_port = free_port()
        self.logs = Path(tempfile.gettempdir()) / f"secmonkey-bench-realtime-{self.suffix}"
        self.processes = Processes(self.logs)
        self.receiver: asyncio.subprocess.Process | None = None
        self.arrivals: dict[str, float] = {}
        self.alerts = 0

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.processes.spawn(name, argv, env)

    def start_moto(self) -> None:
        self._spawn(
            "moto",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.moto_port)],
            {},
        )
        wait_port(self.moto_port)

    def common_env(self) -> dict[str, str]:
        return {
            "SECMONKEY_ENVIRONMENT": "development",
            "SECMONKEY_MONGO_URL": MONGO_URL,
            "SECMONKEY_MONGO_DB": self.db_name,
            "SECMONKEY_AMQP_URL": AMQP_URL,
            "SECMONKEY_LOG_LEVEL": self.args.log_level,
            "SECMONKEY_LOG_JSON": "true",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_CONFIG_FILE": "/nonexistent",
        }

    def start_services(self, queue_url: str) -> None:
        env = self.common_env()
        self._spawn(
            "auditor",
            [sys.executable, "-m", "secmonkey.auditor"],
            {
                **env,
                "SECMONKEY_AUDITOR_PORT": str(free_port()),
                "SECMONKEY_AUDITOR_QUEUE": self.auditor_queue,
                "SECMONKEY_AUDITOR_ROUTING_KEYS": json.dumps([f"{self.prefix}.#"]),
            },
        )
        self._spawn(
            "notifier",
            [sys.executable, "-m", "secmonkey.notifier"],
            {
                **env,
                "SECMONKEY_PORT": str(free_port()),
                "SECMONKEY_QUEUE": self.notifier_queue,
                "SECMONKEY_QUEUE_BINDINGS": json.dumps(["group.changed"]),
                "SECMONKEY_WEBHOOK_ALLOW_HTTP": "true",
                "SECMONKEY_WEBHOOK_ALLOW_PRIVATE": "true",
                "SECMONKEY_SUBSCRIPTION_CACHE_SECONDS": "1",
            },
        )
        self._spawn(
            "collector",
            [sys.executable, "-m", "secmonkey.collector"],
            {
                **env,
                "SECMONKEY_PORT": str(self.collector_port),
                "SECMONKEY_AWS_ENDPOINT_URL": self.moto_url,
                "SECMONKEY_ROUTING_PREFIX": self.prefix,
                "SECMONKEY_SWEEPS_QUEUE": self.sweeps_queue,
                "SECMONKEY_SCHEDULER_ENABLED": "false",
                "SECMONKEY_REPLICA_ID": f"bench-{self.suffix}",
                "SECMONKEY_EVENTS_QUEUE_URL": queue_url,
                "SECMONKEY_EVENTS_WINDOW_SECONDS": str(self.args.window),
            },
        )
        wait_port(self.collector_port, timeout=60)

    async def start_receiver(self) -> int:
        self.receiver = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "receiver.py"), stdout=asyncio.subprocess.PIPE
        )
        assert self.receiver.stdout is not None
        first = (await self.receiver.stdout.readline()).decode().split()
        asyncio.create_task(self._read_receiver())
        return int(first[1])

    async def _read_receiver(self) -> None:
        assert self.receiver is not None and self.receiver.stdout is not None
        async for line in self.receiver.stdout:
            parts = line.decode().split()
            if len(parts) == 3 and parts[0] == "group.changed":
                self.alerts += 1
                self.arrivals.setdefault(parts[1], float(parts[2]))

    def crashed(self) -> list[str]:
        return self.processes.crashed()

    async def stop(self) -> None:
        self.processes.stop_all()
        if self.receiver is not None:
            self.receiver.terminate()
            await self.receiver.wait()
        client = storage.connect(MONGO_URL)
        await client.drop_database(self.db_name)
        await client.close()
        connection = await amqp.connect(AMQP_URL)
        channel = await connection.channel()
        for queue in (self.auditor_queue, self.notifier_queue, self.sweeps_queue):
            for name in (queue, f"{queue}.dead", f"{queue}.undelivered"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
        await connection.close()


def make_estate(moto_url: str, groups: int) -> dict[str, list[str]]:
    """One account: `groups` groups over two regions, each with one harmless rule."""
    create_monitor_role(moto_url, ACCOUNT)
    estate: dict[str, list[str]] = {}
    per_region = groups // len(REGIONS)
    for region in REGIONS:
        ec2 = ec2_client(moto_url, ACCOUNT, region)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
        ids = []
        for n in range(per_region):
            group_id = ec2.create_security_group(
                GroupName=f"app-{n:04d}", Description="bench", VpcId=vpc["VpcId"]
            )["GroupId"]
            ec2.authorize_security_group_ingress(
                GroupId=group_id,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 443,
                        "ToPort": 443,
                        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
                    }
                ],
            )
            ids.append(group_id)
        estate[region] = ids
    return estate


def make_queue(moto_url: str, suffix: str) -> str:
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1", config=CONFIG)
    dlq = sqs.create_queue(QueueName=f"secmonkey-events-{suffix}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return str(
        sqs.create_queue(
            QueueName=f"secmonkey-events-{suffix}",
            Attributes={
                "VisibilityTimeout": "120",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
                ),
            },
        )["QueueUrl"]
    )


async def seed(db_name: str, receiver_port: int) -> None:
    client = storage.connect(MONGO_URL)
    db = client[db_name]
    await storage.ensure_indexes(db)
    account = Account(
        id=ACCOUNT,
        name="bench",
        role_arn=role_arn(ACCOUNT),
        external_id=EXTERNAL_ID,
        regions=list(REGIONS),
    )
    await db.accounts.insert_one(account.to_mongo())
    subscription = Subscription(
        id="bench-webhook",
        name="bench webhook",
        filters=SubscriptionFilters(event_types=["group.changed"], account_ids=[ACCOUNT]),
        channel=Channel(
            type="generic", url=f"http://127.0.0.1:{receiver_port}/hook", secret=SECRET
        ),
    )
    await db.subscriptions.insert_one(subscription.to_mongo())
    await client.close()


async def baseline(pipeline: Pipeline, expected: int) -> None:
    """Sweep once and wait until the auditor holds every group."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{pipeline.collector_port}") as http:
        answer = await http.post("/sweeps", json={"account_ids": [ACCOUNT]})
        answer.raise_for_status()
    client = storage.connect(MONGO_URL)
    db = client[pipeline.db_name]
    deadline = time.monotonic() + 180
    while True:
        count = await db.items.count_documents({"account_id": ACCOUNT})
        if count >= expected:
            break
        if time.monotonic() > deadline or pipeline.crashed():
            raise SystemExit(f"baseline: {count}/{expected} groups; crashed: {pipeline.crashed()}")
        await asyncio.sleep(0.5)
    await client.close()


class Taps:
    """Exclusive queues on the two exchanges: when each group's snapshot and its
    `group.changed` event went by (first time seen, bench-process clock)."""

    def __init__(self) -> None:
        self.snapshot_at: dict[str, float] = {}
        self.event_at: dict[str, float] = {}
        self.connection: Any = None

    async def start(self, prefix: str) -> None:
        self.connection = await amqp.connect(AMQP_URL)
        channel = await self.connection.channel()
        exchanges = await amqp.declare_exchanges(channel)
        snapshots = await channel.declare_queue(exclusive=True, auto_delete=True)
        await snapshots.bind(exchanges[SNAPSHOTS_EXCHANGE], routing_key=f"{prefix}.#")
        events = await channel.declare_queue(exclusive=True, auto_delete=True)
        await events.bind(exchanges[EVENTS_EXCHANGE], routing_key="group.changed")

        async def on_snapshot(message: Any) -> None:
            at = time.time()
            async with message.process():
                body = json.loads(message.body)
                if body.get("source") == "event":
                    for group in body.get("groups", []):
                        self.snapshot_at.setdefault(group["config"]["group_id"], at)

        async def on_event(message: Any) -> None:
            at = time.time()
            async with message.process():
                body = json.loads(message.body)
                if body.get("account_id") == ACCOUNT:
                    self.event_at.setdefault(body["group_id"], at)

        await snapshots.consume(on_snapshot)
        await events.consume(on_event)

    async def stop(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    def stages(self, sent: dict[str, float], arrivals: dict[str, float]) -> dict[str, list[float]]:
        """send → snapshot published (SQS wait, window, describe), → group.changed
        published (auditor), → webhook received (notifier)."""
        stages: dict[str, list[float]] = {
            "send -> snapshot (window, describe)": [],
            "snapshot -> group.changed (auditor)": [],
            "group.changed -> webhook (notifier)": [],
        }
        for group_id, t0 in sent.items():
            snap, event, hook = (
                self.snapshot_at.get(group_id),
                self.event_at.get(group_id),
                arrivals.get(group_id),
            )
            if snap is None or event is None or hook is None:
                continue
            stages["send -> snapshot (window, describe)"].append((snap - t0) * 1000)
            stages["snapshot -> group.changed (auditor)"].append((event - snap) * 1000)
            stages["group.changed -> webhook (notifier)"].append((hook - event) * 1000)
        return stages


async def run(args: argparse.Namespace) -> None:
    pipeline = Pipeline(args)
    taps = Taps()
    stages: dict[str, list[float]] = {}
    sent: dict[str, float] = {}
    latencies: list[float] = []
    missing = 0
    try:
        pipeline.start_moto()
        print(f"moto on {pipeline.moto_url}; building {args.groups} groups ...", flush=True)
        estate = await asyncio.to_thread(make_estate, pipeline.moto_url, args.groups)
        queue_url = await asyncio.to_thread(make_queue, pipeline.moto_url, pipeline.suffix)
        receiver_port = await pipeline.start_receiver()
        await taps.start(pipeline.prefix)
        await seed(pipeline.db_name, receiver_port)
        pipeline.start_services(queue_url)
        # Every region also holds its default VPC's default group.
        await baseline(pipeline, args.groups + len(REGIONS))
        print("baseline swept; sending changes ...", flush=True)
        await asyncio.sleep(2)

        sqs = boto3.client(
            "sqs", endpoint_url=pipeline.moto_url, region_name="us-east-1", config=CONFIG
        )
        clients = {r: ec2_client(pipeline.moto_url, ACCOUNT, r) for r in REGIONS}
        # Alternate regions so both windows are busy; every change on its own group.
        targets = [
            (region, estate[region][n])
            for n in range(max(len(v) for v in estate.values()))
            for region in REGIONS
            if n < len(estate[region])
        ][: args.changes]
        next_at = time.monotonic()
        for region, group_id in targets:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += args.interval
            await asyncio.to_thread(
                clients[region].authorize_security_group_ingress,
                GroupId=group_id,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )
            body = json.dumps(
                recorded(
                    "AuthorizeSecurityGroupIngress",
                    account=ACCOUNT,
                    region=region,
                    group_id=group_id,
                )
            )
            sent[group_id] = time.time()
            await asyncio.to_thread(sqs.send_message, QueueUrl=queue_url, MessageBody=body)

        deadline = time.monotonic() + args.timeout
        while len(set(sent) & set(pipeline.arrivals)) < len(sent) and time.monotonic() < deadline:
            if pipeline.crashed():
                raise SystemExit(f"crashed: {pipeline.crashed()}")
            await asyncio.sleep(0.2)
        latencies = [
            (pipeline.arrivals[g] - t0) * 1000 for g, t0 in sent.items() if g in pipeline.arrivals
        ]
        missing = len(sent) - len(latencies)
        stages = taps.stages(sent, pipeline.arrivals)
        describes, leading = await describe_counts(pipeline.collector_port)
    finally:
        await taps.stop()
        await pipeline.stop()
        print(f"service logs in {pipeline.logs}")

    print()
    print(f"changes sent:       {len(sent)} (one every {args.interval:.3f}s, 2 regions)")
    print(f"alerts received:    {len(latencies)} ({missing} missing after {args.timeout:.0f}s)")
    print(f"coalescing window:  {args.window:.1f}s")
    goal = goal_for(1.0 / args.interval)
    per_change = describes / len(sent) if sent else float("nan")
    print(
        f"describe calls:     {describes:.0f} ({per_change:.2f} per change; "
        f"{leading:.0f} changes described at once, the rest coalesced in windows)"
    )
    if not latencies:
        print(f"RESULT realtime_p95_ms=nan goal<={goal:.0f} describes_per_change={per_change:.2f}")
        return
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"latency p50:        {p50:8.0f} ms")
    print(f"latency p95:        {p95:8.0f} ms")
    print(f"latency max:        {max(latencies):8.0f} ms")
    print(f"latency mean:       {statistics.fmean(latencies):8.0f} ms")
    for name, values in stages.items():
        if values:
            print(
                f"  {name:<34} p50 {percentile(values, 50):6.0f} ms"
                f"   p95 {percentile(values, 95):6.0f} ms"
            )
    verdict = "meets" if p95 <= goal and not missing else "misses"
    print(f"goal p95 <= {goal:.0f} ms at {1.0 / args.interval:.0f} changes/s: {verdict}")
    print(
        f"RESULT realtime_p95_ms={p95:.0f} goal<={goal:.0f} describes_per_change={per_change:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--groups", type=int, default=200, help="groups in the estate (>= changes)")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.25,
        help="seconds between changes (4/s: far busier than real estates, still several per window)",
    )
    parser.add_argument("--window", type=float, default=2.0, help="coalescing window (s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="wait for alerts (s)")
    parser.add_argument("--log-level", default="WARNING", help="of the services (logs kept)")
    args = parser.parse_args()
    args.groups = max(args.groups, args.changes)
    # Everything AWS here is the local moto server: dummy credentials, never real ones.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
