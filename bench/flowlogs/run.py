"""Benchmark: reading VPC flow logs from S3 (moto) into per-rule usage.

One moto server (its own process) holds one account-region with 1,000 network interfaces
and 5,000 ingress rules (1,000 groups x 5 rules) and a flow log to a bucket; the bench
writes `--records` (10 million) generated records there as gzip objects in the AWS key
layout (generation runs in worker processes and is not measured). Then one process,
pinned to one core, runs the collector's `FlowLogReader` over them: download, gunzip,
parse, attribute to rules, and write the summaries to the MongoDB-compatible server.

Prints records/s for the whole read (and the split between reading+attributing and
writing) and the reader's peak RSS. Last line:
`RESULT flowlogs_records_per_s=<x> peak_rss_mb=<y>`. Goal: >= 200,000 records/s, < 500 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
WORK = ROOT / ".local" / "bench-flowlogs"
ACCOUNT = "123456789012"
REGION = "us-east-1"
GROUPS = 1000
RULES_PER_GROUP = 5
PORTS = [22, 80, 443, 5432, 8080]
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    WORK.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SECMONKEY_"))}
    env.update(AWS_ENV, MOTO_EC2_LOAD_DEFAULT_AMIS="false")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=(WORK / "moto.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=2):  # noqa: S310
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("moto did not start")


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
    )


def build_estate(endpoint: str, bucket: str) -> list[tuple[str, str]]:
    """1,000 groups of 5 rules, one interface each; (interface id, address) per interface."""
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24")["Subnet"]["SubnetId"]
        for n in range(4)
    ]
    interfaces = []
    for n in range(GROUPS):
        group = ec2.create_security_group(GroupName=f"g{n}", Description="b", VpcId=vpc)
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": p,
                    "ToPort": p,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0" if p in (80, 443) else "10.0.0.0/8"}],
                }
                for p in PORTS
            ],
        )
        ip = f"10.0.{n // 250}.{n % 250 + 4}"
        eni = ec2.create_network_interface(
            SubnetId=subnets[n // 250], Groups=[group["GroupId"]], PrivateIpAddress=ip
        )["NetworkInterface"]["NetworkInterfaceId"]
        interfaces.append((eni, ip))
    client(endpoint, "s3").create_bucket(Bucket=bucket)
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{bucket}",
    )
    return interfaces


def make_object(args: tuple[int, int, list[tuple[str, str]], int]) -> bytes:
    """One gzip object of `count` v2 records: 85 % inbound to a rule's port from a pool
    of sources, 10 % replies to ephemeral ports, 5 % rejected."""
    from secmonkey.collector.simulate.flowlog_records import gzip_lines
    from secmonkey.common.rule_usage import V2_FIELDS

    seed, count, interfaces, start = args
    rng = random.Random(seed)
    publics = [f"198.51.{n // 250}.{n % 250 + 1}" for n in range(2000)]
    privates = [f"10.{n // 250 + 1}.{n % 250}.7" for n in range(500)]

    def lines() -> Any:
        for i in range(count):
            eni, ip = interfaces[rng.randrange(len(interfaces))]
            at = start + i % 300
            roll = rng.random()
            if roll < 0.85:
                port = PORTS[rng.randrange(5)]
                src = (
                    publics[rng.randrange(2000)]
                    if port in (80, 443)
                    else privates[rng.randrange(500)]
                )
                yield (
                    f"2 {ACCOUNT} {eni} {src} {ip} {rng.randrange(32768, 61000)} {port} "
                    f"6 5 420 {at} {at + 60} ACCEPT OK"
                )
            elif roll < 0.95:
                src = publics[rng.randrange(2000)]
                yield (
                    f"2 {ACCOUNT} {eni} {src} {ip} 443 {rng.randrange(32768, 61000)} "
                    f"6 4 300 {at} {at + 60} ACCEPT OK"
                )
            else:
                yield (
                    f"2 {ACCOUNT} {eni} 203.0.113.5 {ip} 40000 3389 6 1 40 {at} {at + 60} REJECT OK"
                )

    return gzip_lines(lines(), list(V2_FIELDS), level=1)


def generate(
    endpoint: str, bucket: str, interfaces: list[tuple[str, str]], records: int, per_object: int
) -> int:
    from secmonkey.collector.simulate.flowlog_records import s3_key

    s3 = client(endpoint, "s3")
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    objects = max(1, records // per_object)
    jobs = [
        (n, per_object, interfaces, int((day + timedelta(minutes=5 * (n % 280))).timestamp()))
        for n in range(objects)
    ]
    size = 0
    with ProcessPoolExecutor(max(1, (os.cpu_count() or 2))) as pool:
        for n, body in enumerate(pool.map(make_object, jobs)):
            at = day + timedelta(minutes=5 * (n % 280), seconds=n // 280)
            key = s3_key("", ACCOUNT, REGION, at, "fl-bench")
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            size += len(body)
    return size


def read(endpoint: str, bucket: str, mongo_url: str, db_name: str) -> dict[str, Any]:
    """The measured part, in a process of its own pinned to one core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    from secmonkey.collector.flowlogs.run import FlowLogReader
    from secmonkey.common import storage
    from secmonkey.common.documents import Account

    clients: dict[str, Any] = {}

    def client_for(account: Any, service: str, region: str) -> Any:
        if service not in clients:
            clients[service] = client(endpoint, service)
        return clients[service]

    async def run() -> dict[str, Any]:
        mongo = storage.connect(mongo_url)
        await storage.detect(mongo)
        db = mongo[db_name]
        await storage.ensure_indexes(db)
        account = Account.model_validate(
            {
                "_id": ACCOUNT,
                "name": "bench",
                "flow_logs": [{"kind": "s3", "bucket": bucket}],
            }
        )

        async def same_thread(fn: Any, *args: Any) -> Any:
            return fn(*args)

        reader = FlowLogReader(db, client_for, backfill_days=0, run_in_thread=same_thread)
        started = time.perf_counter()
        cpu = time.process_time()
        stats = await reader.read_account(account, [REGION])
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        summaries = await db.rule_usage_summary.count_documents({})
        await mongo.drop_database(db_name)
        await mongo.close()
        load = os.getloadavg()[0]
        return {
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "load": load,
            "summaries": summaries,
            **vars(stats),
        }

    result = asyncio.run(run())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--per-object", type=int, default=100_000)
    parser.add_argument("--read-only", nargs=2, metavar=("ENDPOINT", "BUCKET"))
    args = parser.parse_args()
    mongo_url = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
    if args.read_only:
        print(
            json.dumps(
                read(*args.read_only, mongo_url, f"bench_flowlogs_{uuid.uuid4().hex[:8]}"),
                default=str,
            )
        )
        return
    os.environ.update(AWS_ENV)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_moto(port)
    try:
        bucket = f"bench-flowlogs-{uuid.uuid4().hex[:8]}"
        began = time.monotonic()
        interfaces = build_estate(endpoint, bucket)
        print(
            f"estate: {len(interfaces)} interfaces, {GROUPS * RULES_PER_GROUP} rules "
            f"in {time.monotonic() - began:.1f}s",
            flush=True,
        )
        began = time.monotonic()
        size = generate(endpoint, bucket, interfaces, args.records, args.per_object)
        print(
            f"generated {args.records:,} records in {size / 1e6:.1f} MB of gzip objects "
            f"({args.records // args.per_object} objects) in {time.monotonic() - began:.1f}s",
            flush=True,
        )
        answer = subprocess.run(
            [sys.executable, __file__, "--read-only", endpoint, bucket],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        result = json.loads(answer.stdout.strip().splitlines()[-1])
    finally:
        moto.terminate()
        moto.wait(20)
    rate = result["records"] / result["seconds"]
    print(
        f"read {result['records']:,} records ({result['accepted_inbound']:,} accepted inbound, "
        f"{result['units']} objects) in {result['seconds']:.1f}s on one core: "
        f"reading+attributing {result['read_seconds']:.1f}s, writing {result['write_seconds']:.1f}s "
        f"({result['summaries']} group summaries)"
    )
    print(
        f"reader CPU time {result['cpu_seconds']:.1f}s "
        f"({result['records'] / result['cpu_seconds']:.0f} records per CPU-second); "
        f"machine load average {result['load']:.1f} on {os.cpu_count()} cores"
    )
    print(f"RESULT flowlogs_records_per_s={rate:.0f} peak_rss_mb={result['peak_rss_mb']:.0f}")


if __name__ == "__main__":
    main()
