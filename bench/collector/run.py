"""Benchmark: a full secmonkey sweep against Cloud Custodian over the same moto estate.

One moto server (its own process) holds 2 accounts x 2 regions x 1,000 security groups
(plus each VPC's default group), reached through AssumeRole with an ExternalId.

- secmonkey: the collector runs as a service (`python -m secmonkey.collector`); the time
  is from `POST /sweeps` to the arrival of the last SweepCompleted on RabbitMQ (every
  batch published with confirms before it). It reads groups, network interfaces and VPCs.
- Cloud Custodian: `c7n-org run` (c7n's own multi-account runner, one process per
  account-region) with an `aws.security-group` policy and an `ingress` filter
  (0.0.0.0/0), moto reached through AWS_ENDPOINT_URL. c7n and c7n-org are installed in
  their own virtualenv under .local/ (never in the workspace lock). Its time is the wall
  time of the command, as an operator runs it; c7n's own per-region durations are shown.

Both tools run `--rounds` times, alternately; the medians are compared. Both are bound
by moto's own CPU time (one process, one core), printed at the end as the floor. The last line is
`RESULT collector_vs_c7n_time_ratio=<x> goal<=0.5 without_exposure_reads_ratio=<y>
exposure_reads_cost=<z>`: the collector runs twice per round, with the exposure reads of
issue 16 (its default) and without them (`SECMONKEY_TOPOLOGY_ENABLED=false`), so their
cost stays visible. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".local" / "bench-collector"
C7N_VENV = ROOT / ".local" / "bench-c7n"
C7N_PACKAGES = ("c7n==0.9.53", "c7n-org==0.6.52")
REGIONS = ["us-east-1", "eu-west-1"]
POLICY = """\
policies:
  - name: sg-ingress-open-to-world
    resource: aws.security-group
    filters:
      - type: ingress
        Cidr:
          value: "0.0.0.0/0"
"""
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECMONKEY_", "AWS_", "VIRTUAL_ENV"))
    }
    env.update(AWS_ENV)
    env.update(extra)
    return env


def start_moto(port: int) -> subprocess.Popen[bytes]:
    log = (WORK / "moto.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        # AMIs are never read by either tool; loading them only slows moto's region setup.
        env=clean_env(MOTO_EC2_LOAD_DEFAULT_AMIS="false"),
    )
    wait_http(f"http://127.0.0.1:{port}/moto-api/data.json")
    return process


def ensure_c7n() -> tuple[Path | None, str]:
    """c7n-org in its own virtualenv; returns its path, or None and the reason it failed."""
    c7n_org = C7N_VENV / "bin" / "c7n-org"
    if c7n_org.exists():
        return c7n_org, "already installed"
    uv = shutil.which("uv") or str(ROOT / ".venv-tools" / "bin" / "uv")
    try:
        if Path(uv).exists():
            subprocess.run([uv, "venv", "-q", "-p", "3.11", str(C7N_VENV)], check=True)
            subprocess.run(
                [uv, "pip", "install", "-q", "--python", str(C7N_VENV / "bin" / "python"),
                 *C7N_PACKAGES],
                check=True,
            )  # fmt: skip
        else:
            subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=True)
            subprocess.run(
                [str(C7N_VENV / "bin" / "pip"), "install", "-q", *C7N_PACKAGES], check=True
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"could not install {' '.join(C7N_PACKAGES)}: {exc}"
    return c7n_org, "installed " + " ".join(C7N_PACKAGES)


class Collector:
    """The collector service in its own process, on a database and queue of its own."""

    def __init__(
        self, endpoint: str, accounts_file: Path, concurrency: int | None, topology: bool = True
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.db = f"bench_collector_{tag}"
        self.queue = f"bench.sweeps.{tag}"
        self.prefix = f"bench-{tag}"
        self.port = free_port()
        self.mongo_url = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
        self.amqp_url = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        env = clean_env(
            SECMONKEY_MONGO_URL=self.mongo_url,
            SECMONKEY_AMQP_URL=self.amqp_url,
            SECMONKEY_MONGO_DB=self.db,
            SECMONKEY_SWEEPS_QUEUE=self.queue,
            SECMONKEY_ROUTING_PREFIX=self.prefix,
            SECMONKEY_SCHEDULER_ENABLED="false",
            SECMONKEY_PORT=str(self.port),
            SECMONKEY_AWS_ENDPOINT_URL=endpoint,
            SECMONKEY_ACCOUNTS_FILE=str(accounts_file),
            SECMONKEY_LOG_LEVEL="WARNING",
            SECMONKEY_LOG_JSON="true",
            SECMONKEY_TOPOLOGY_ENABLED="true" if topology else "false",
        )
        if concurrency is not None:
            env["SECMONKEY_SWEEP_CONCURRENCY"] = str(concurrency)
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "secmonkey.collector"],
            env=env,
            stdout=(WORK / f"collector-{'topology' if topology else 'groups'}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        # Generous: on a loaded machine (nice, shared cores) a start takes minutes.
        wait_http(f"http://127.0.0.1:{self.port}/readyz", timeout=300)
        self.start_seconds = time.monotonic() - started

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    async def cleanup(self) -> None:
        from secmonkey.common import amqp, storage

        client = storage.connect(self.mongo_url)
        await client.drop_database(self.db)
        await client.close()
        connection = await amqp.connect(self.amqp_url)
        channel = await connection.channel()
        for name in (self.queue, f"{self.queue}.dead"):
            await channel.queue_delete(name)
        await connection.close()

    async def sweep(self, accounts: list[str], expected_regions: int) -> dict[str, Any]:
        """Time one sweep: POST /api/v1/sweeps until the last SweepCompleted has arrived."""
        sys.path.insert(0, str(ROOT))
        from bench.sweeps_api import sweeps_api
        from secmonkey.common import amqp
        from secmonkey.common.messages import (
            SNAPSHOTS_EXCHANGE,
            SnapshotBatch,
            SweepCompleted,
            parse_message,
        )

        connection = await amqp.connect(self.amqp_url)
        channel = await connection.channel()
        exchanges = await amqp.declare_exchanges(channel)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchanges[SNAPSHOTS_EXCHANGE], routing_key=f"{self.prefix}.#")
        bodies: list[bytes] = []
        completed: list[SweepCompleted] = []
        done = asyncio.Event()

        async def on_message(message: Any) -> None:
            await message.ack()
            if (message.message_id or "").endswith(":completed"):
                completed.append(parse_message(SweepCompleted, message.body))
                if len(completed) == expected_regions:
                    done.set()
            else:
                bodies.append(message.body)  # parsed after the clock stops

        await queue.consume(on_message)
        async with sweeps_api(self.mongo_url, self.amqp_url, self.db, self.queue) as http:
            started = time.perf_counter()
            answer = await http.post("/sweeps", json={"account_ids": accounts})
            answer.raise_for_status()
            sweep_id = answer.json()["sweeps"][0]["sweep_id"]
            await asyncio.wait_for(done.wait(), 600)
            seconds = time.perf_counter() - started
            for _ in range(300):  # the status documents are written just after publishing
                status = (await http.get(f"/sweeps/{sweep_id}")).json()
                if status["status"] not in ("pending", "running"):
                    break
                await asyncio.sleep(0.1)
        await connection.close()
        batches = [parse_message(SnapshotBatch, b) for b in bodies]
        groups = [g for b in batches for g in b.groups]
        open_to_world = {
            g.config.group_id
            for g in groups
            if any(r.direction == "ingress" and r.source == "0.0.0.0/0" for r in g.config.rules)
        }
        return {
            "seconds": seconds,
            "groups": len(groups),
            "batches": len(batches),
            "complete": all(c.complete for c in completed),
            "open_to_world": len(open_to_world),
            "regions": {
                f"{r['region']}/{a['account_id']}": r["duration_seconds"]
                for a in status["accounts"]
                for r in a["regions"]
            },
        }


def run_c7n(c7n_org: Path, endpoint: str, config: Path, policy: Path, out: Path) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cache = out.parent / f"{out.name}-cache"
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        str(c7n_org), "run", "-c", str(config), "-u", str(policy), "-s", str(out),
        "--cache-period", "0", "--cache-path", str(cache),
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env=clean_env(AWS_ENDPOINT_URL=endpoint),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    seconds = time.perf_counter() - started
    (out.parent / f"{out.name}.log").write_text(done.stdout + done.stderr)
    matched = 0
    durations: dict[str, float] = {}
    for meta in out.glob("*/*/*/metadata.json"):
        data = json.loads(meta.read_text())
        account, region = meta.parts[-4], meta.parts[-3]
        durations[f"{region}/{account}"] = round(data["execution"]["duration"], 2)
        matched += next(m["Value"] for m in data["metrics"] if m["MetricName"] == "ResourceCount")
    return {
        "seconds": seconds,
        "returncode": done.returncode,
        "matched": matched,
        "regions": durations,
        "tail": (done.stdout + done.stderr)[-1500:],
    }


def moto_floor(endpoint: str, account_id: str, region: str) -> dict[str, float]:
    """How long moto itself takes to answer each call for one region, asked alone."""
    from secmonkey.collector.reader import pages
    from secmonkey.collector.simulate import ec2_client

    ec2 = ec2_client(endpoint, account_id, region)
    timings = {}
    for name, call, key in (
        ("sgs", ec2.describe_security_groups, "SecurityGroups"),
        ("enis", ec2.describe_network_interfaces, "NetworkInterfaces"),
        ("vpcs", ec2.describe_vpcs, "Vpcs"),
    ):
        started = time.perf_counter()
        list(pages(call, key))
        timings[name] = time.perf_counter() - started
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000, help="groups per account-region")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tool")
    parser.add_argument(
        "--concurrency",
        type=int,
        help="the collector's SECMONKEY_SWEEP_CONCURRENCY (default: its own default)",
    )
    parser.add_argument(
        "--skip-c7n",
        action="store_true",
        help="time only the collector, with and without the exposure reads (no ratio to c7n)",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.environ.update(AWS_ENV)
    WORK.mkdir(parents=True, exist_ok=True)

    from secmonkey.collector.simulate import fill_estate

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = start_moto(port)
    collector: Collector | None = None
    plain: Collector | None = None
    try:
        started = time.monotonic()
        estate = fill_estate(endpoint, 2, REGIONS, args.groups, seed=42, attach_share=0.3)
        print(
            f"estate: {len(estate.account_ids)} accounts x {len(REGIONS)} regions x "
            f"{args.groups} groups ({estate.group_count} created) in "
            f"{time.monotonic() - started:.1f}s, moto at {endpoint}"
        )
        accounts_file = WORK / "accounts.yaml"
        estate.write_accounts_file(accounts_file)
        c7n_config = WORK / "c7n-accounts.yaml"
        c7n_config.write_text(
            json.dumps(
                {
                    "accounts": [
                        {
                            "account_id": a["id"],
                            "name": f"sim-{n + 1}",
                            "role": a["role_arn"],
                            "external_id": a["external_id"],
                            "regions": a["regions"],
                        }
                        for n, a in enumerate(estate.account_entries())
                    ]
                },
                indent=2,
            )
        )
        policy = WORK / "c7n-policy.yaml"
        policy.write_text(POLICY)

        collector = Collector(endpoint, accounts_file, args.concurrency)
        plain = Collector(endpoint, accounts_file, args.concurrency, topology=False)
        print(f"secmonkey collector ready in {collector.start_seconds:.1f}s (not timed below)")
        c7n_org, how = (None, "skipped (--skip-c7n)") if args.skip_c7n else ensure_c7n()
        print(f"cloud custodian: {how}" if c7n_org else f"cloud custodian unavailable: {how}")

        ours: list[dict[str, Any]] = []
        without: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        expected = len(estate.account_ids) * len(REGIONS)
        for n in range(1, args.rounds + 1):
            result = asyncio.run(collector.sweep(estate.account_ids, expected))
            ours.append(result)
            print(
                f"round {n} secmonkey: {result['seconds']:.2f}s, {result['groups']} groups in "
                f"{result['batches']} batches, complete={result['complete']}, "
                f"open to 0.0.0.0/0: {result['open_to_world']}; per region "
                f"{json.dumps(result['regions'], sort_keys=True)}"
            )
            bare = asyncio.run(plain.sweep(estate.account_ids, expected))
            without.append(bare)
            print(
                f"round {n} secmonkey without the exposure reads: {bare['seconds']:.2f}s, "
                f"{bare['groups']} groups, complete={bare['complete']}"
            )
            if c7n_org is None:
                continue
            run = run_c7n(c7n_org, endpoint, c7n_config, policy, WORK / f"c7n-out-{n}")
            theirs.append(run)
            print(
                f"round {n} c7n-org:   {run['seconds']:.2f}s, exit {run['returncode']}, "
                f"matched {run['matched']}; c7n's own per-region durations "
                f"{json.dumps(run['regions'], sort_keys=True)}"
            )
            if run["returncode"] != 0 or len(run["regions"]) != expected:
                print(f"c7n-org did not cover every account-region:\n{run['tail']}")
        floor = moto_floor(endpoint, estate.account_ids[0], REGIONS[0])
    finally:
        for running in (collector, plain):
            if running is not None:
                running.stop()
                asyncio.run(running.cleanup())
        moto.terminate()
        moto.wait(20)

    print(
        f"moto alone, one region at a time: DescribeSecurityGroups {floor['sgs']:.2f}s, "
        f"DescribeNetworkInterfaces {floor['enis']:.2f}s, DescribeVpcs {floor['vpcs']:.2f}s. "
        "One moto process answers on one core (the GIL), so "
        f"{expected} regions cost at least {expected * floor['sgs']:.1f}s of moto time for any "
        f"tool that lists the groups, {expected * sum(floor.values()):.1f}s for secmonkey's "
        "three calls"
    )
    ours_median = statistics.median(r["seconds"] for r in ours)
    without_median = statistics.median(r["seconds"] for r in without)
    print(f"secmonkey full sweep (median of {len(ours)}): {ours_median:.2f}s")
    print(
        f"secmonkey without the exposure reads (routes, gateways, ACLs, load balancers, group "
        f"users): {without_median:.2f}s; the exposure reads cost x{ours_median / without_median:.2f}"
    )
    extra = f" without_exposure_reads_ratio=__W__ exposure_reads_cost={ours_median / without_median:.3f}"
    good = [r for r in theirs if r["returncode"] == 0 and len(r["regions"]) == expected]
    if not good:
        print("cloud custodian: no successful run, no ratio")
        print(f"RESULT collector_vs_c7n_time_ratio=nan goal<=0.5{extra.replace('__W__', 'nan')}")
        return
    theirs_median = statistics.median(r["seconds"] for r in good)
    print(f"cloud custodian c7n-org run (median of {len(good)}): {theirs_median:.2f}s")
    if ours[-1]["open_to_world"] != good[-1]["matched"]:
        print(
            f"note: groups open to 0.0.0.0/0 differ: secmonkey {ours[-1]['open_to_world']}, "
            f"c7n {good[-1]['matched']}"
        )
    ratio = ours_median / theirs_median
    bare_ratio = without_median / theirs_median
    print(f"ratio secmonkey / cloud custodian: {ratio:.3f} ({bare_ratio:.3f} without exposure)")
    print(
        f"RESULT collector_vs_c7n_time_ratio={ratio:.3f} goal<=0.5"
        + extra.replace("__W__", f"{bare_ratio:.3f}")
    )


if __name__ == "__main__":
    main()
