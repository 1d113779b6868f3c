"""`make bench-scale`: a full secmonkey sweep against `c7n-org run` on the AWS stand-in
(bench/scale/rig.py: moto shards behind a router with latency and EC2's throttling).

Default 100 accounts x 17 regions x 20 groups (`--groups 100` for 170,000 groups);
`SCALE_ARGS="--accounts 20 --regions 4"` for a smaller run. In one sitting:

1. the rig is started (or a running one of the same shape reused);
2. secmonkey: the collector and the auditor as services (their own processes, database,
   queues, routing prefix); a sweep of every account is asked through the API and timed
   from the request to the last SweepCompleted (what c7n-org's wall time measures: the
   API's sweep status, each region's end recorded just after its SweepCompleted). The
   time until the auditor has stored every group (first sight) is printed separately,
   then a second, unchanged sweep (collector time, and until the auditor has moved
   `last_seen` of every group), then a groups-only sweep by a fresh collector without
   the topology reads (exposure), which reads what c7n-org's policy reads: printed as the
   like-for-like comparison beside the RESULT, which stays the full sweep's;
3. Cloud Custodian: `c7n-org run` (its own virtualenv, as bench/collector installs it)
   with an `aws.security-group` policy over the same accounts and regions, at its default
   workers and at each of `--c7n-workers`; the best time is compared.

CPU seconds are each tool's own processes (the collector's /proc times over its sweep;
c7n-org and its worker processes from the rusage of reaped children), never the rig's.
Peak RSS is VmHWM of the collector and the auditor. Throttling errors are the rig's
`RequestLimitExceeded` answers during each run. The last line is
`RESULT scale_vs_c7n_time_ratio=<x> collector_cpu_vs_c7n=<y> incomplete_sweeps=<n>`
(goals: <= 0.5, <= 0.5, 0). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.collector.run import POLICY, ensure_c7n  # noqa: E402
from bench.harness import Processes, free_port, wait_port  # noqa: E402
from bench.scale import rig  # noqa: E402
from bench.sweeps_api import ask_sweep, sweeps_api  # noqa: E402

WORK = ROOT / ".local" / "bench-scale"
MONGO_URL = os.environ.get("SECMONKEY_MONGO_URL", "mongodb://127.0.0.1:27017/")
AMQP_URL = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
EXTERNAL_ID = "bench-scale-external-id"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent",
}
TICK = os.sysconf("SC_CLK_TCK")
PARTITIONS = 16  # the auditor's default (SECMONKEY_PARTITIONS)
OUTCOMES = ("unchanged", "created", "changed", "restored", "deleted", "reaudit")


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/secmonkey-monitor"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (its own threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rig_stats(url: str) -> dict[str, int]:
    return dict(httpx.get(f"{url}/rig/stats", timeout=30).json())


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECMONKEY_", "AWS_", "VIRTUAL_ENV"))
    }
    return {**env, **AWS_ENV, **extra}


class Secmonkey:
    """The collector and the auditor as processes, on a database and queues of their own."""

    def __init__(
        self,
        router: str,
        accounts_file: Path,
        log_dir: Path,
        regions: int,
        store_timeout: float,
        auditors: int = 1,
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.store_timeout = store_timeout
        self.regions = regions
        self.db_name = f"bench_scale_{tag}"
        self.prefix = f"bench-{tag}"
        self.sweeps_queue = f"bench.sweeps.{tag}"
        self.auditor_queue = f"bench.auditor.{tag}"
        self.processes = Processes(log_dir)
        common = {
            "SECMONKEY_ENVIRONMENT": "development",
            "SECMONKEY_MONGO_URL": MONGO_URL,
            "SECMONKEY_MONGO_DB": self.db_name,
            "SECMONKEY_AMQP_URL": AMQP_URL,
            "SECMONKEY_LOG_LEVEL": "WARNING",
            "SECMONKEY_LOG_JSON": "true",
            "SECMONKEY_PARTITIONS": str(PARTITIONS),
        }
        # Replicas share the partitions through their leases, as in production.
        self.auditors = ["auditor", *(f"auditor{n + 1}" for n in range(1, auditors))]
        self.auditor_ports = [free_port() for _ in self.auditors]
        for name, port in zip(self.auditors, self.auditor_ports, strict=True):
            self.processes.spawn(
                name,
                [sys.executable, "-m", "secmonkey.auditor"],
                clean_env(
                    **common,
                    SECMONKEY_AUDITOR_PORT=str(port),
                    SECMONKEY_AUDITOR_QUEUE=self.auditor_queue,
                    SECMONKEY_AUDITOR_ROUTING_KEYS=json.dumps([f"{self.prefix}.#"]),
                ),
            )
        collector_port = free_port()
        self.processes.spawn(
            "collector",
            [sys.executable, "-m", "secmonkey.collector"],
            clean_env(
                **common,
                SECMONKEY_PORT=str(collector_port),
                SECMONKEY_AWS_ENDPOINT_URL=router,
                SECMONKEY_ACCOUNTS_FILE=str(accounts_file),
                SECMONKEY_ROUTING_PREFIX=self.prefix,
                SECMONKEY_SWEEPS_QUEUE=self.sweeps_queue,
                SECMONKEY_SCHEDULER_ENABLED="false",
                SECMONKEY_REPLICA_ID=f"bench-{tag}",
            ),
        )
        for port in self.auditor_ports:
            wait_port(port, 120)
        wait_port(collector_port, 120)
        self.collector_port = collector_port
        self.full_collector_rss = 0.0

    async def restart_collector(self, **env: str) -> None:
        """A fresh collector process (cold clients and credentials) with `env` added; the
        stopped one's peak RSS is kept (`full_collector_rss`)."""
        self.full_collector_rss = peak_rss_mib(self.pid("collector"))
        self.processes.signal("collector", signal.SIGTERM)
        proc = self.processes.children["collector"].proc
        assert proc is not None
        await asyncio.to_thread(proc.wait, 60)
        self.processes.children["collector"].env.update(env)
        self.processes.start("collector")
        await asyncio.to_thread(wait_port, self.collector_port, 120)

    def pid(self, name: str) -> int:
        return self.processes.pid(name)

    def auditor_cpu(self) -> float:
        """CPU seconds of every auditor replica so far."""
        return sum(cpu_seconds(self.pid(n)) for n in self.auditors)

    async def sweep(
        self, api: httpx.AsyncClient, accounts: list[str], stored: str
    ) -> dict[str, Any]:
        """Ask one sweep of every account; its time from the request to the last region's
        end (the API's sweep status: each region's end is recorded just after its
        SweepCompleted was published), then the seconds until the auditor has applied
        every group (its `secmonkey_auditor_groups_applied_total`: `stored` "first"
        counts created groups, otherwise any outcome), and the items stored (counted once
        at the end: any item for "first", else those whose last_seen moved past the
        request)."""
        from secmonkey.common import storage

        client = storage.connect(MONGO_URL)
        items = client[self.db_name]["items"]
        cpu = {"collector": cpu_seconds(self.pid("collector")), "auditor": self.auditor_cpu()}
        asked_at = datetime.now(UTC)
        before = await self.applied()
        swept_before = await self.regions_swept()
        started = time.perf_counter()
        sweep_id = await ask_sweep(api, accounts)
        # The collector's counter of account-regions swept says when to look: the sweep's
        # status is a scan of the `sweeps` collection on FerretDB (thousands of documents
        # at 100 x 17), and polling it every half second slowed the sweep it measured.
        while True:
            if await self.regions_swept() - swept_before >= len(accounts) * self.regions:
                status = (await api.get(f"/sweeps/{sweep_id}")).json()
                if status["status"] not in ("pending", "running"):
                    break
            if self.processes.crashed() or time.perf_counter() - started > 3600:
                raise SystemExit(f"sweep unfinished; crashed: {self.processes.crashed()}")
            await asyncio.sleep(0.5)
        collector_cpu = cpu_seconds(self.pid("collector")) - cpu["collector"]
        regions = [r for a in status["accounts"] for r in a["regions"]]
        groups = int(status["groups"])
        # The auditor's own counters say when it has applied every group (a count of
        # items is a scan of every document on FerretDB: made once, at the end).
        wanted = ("created",) if stored == "first" else OUTCOMES
        baseline = sum(before.get(o, 0.0) for o in wanted)
        at_end = await self.applied(wanted) - baseline  # stored when the sweep ended
        stored_seconds: float | None = None
        while await self.applied(wanted) - baseline < groups:
            if self.processes.crashed():
                raise SystemExit(f"crashed: {self.processes.crashed()}")
            if time.perf_counter() - started > self.store_timeout:
                break
            await asyncio.sleep(0.5)
        else:
            stored_seconds = time.perf_counter() - started
        query = {} if stored == "first" else {"last_seen": {"$gte": asked_at}}
        count = await items.count_documents(query)
        auditor_cpu = self.auditor_cpu() - cpu["auditor"]
        await client.close()
        return {
            "seconds": float(status["duration_seconds"]),
            "stored_seconds": stored_seconds,
            "stored": count,
            "stored_at_end": int(at_end),
            "regions": len(regions),
            "groups": groups,
            "incomplete": len(accounts) * self.regions - int(status["regions_complete"]),
            "errors": sorted({r["error"] for r in regions if r.get("error")})[:3],
            "collector_cpu": collector_cpu,
            "auditor_cpu": auditor_cpu,
        }

    async def regions_swept(self) -> float:
        """The collector's `secmonkey_collector_region_sweeps_total`, every outcome (a
        region's status is recorded just after it is counted)."""
        async with httpx.AsyncClient(timeout=30) as http:
            text = (await http.get(f"http://127.0.0.1:{self.collector_port}/metrics")).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("secmonkey_collector_region_sweeps_total{")
        )

    async def applied(self, outcomes: tuple[str, ...] | None = None) -> Any:
        """The auditors' `secmonkey_auditor_groups_applied_total` (summed over replicas): by
        outcome (a dict) without `outcomes`, else the sum of those outcomes."""
        found: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=30) as http:
            for port in self.auditor_ports:
                text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                for line in text.splitlines():
                    if line.startswith("secmonkey_auditor_groups_applied_total{"):
                        outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
                        found[outcome] = found.get(outcome, 0.0) + float(line.rsplit(" ", 1)[1])
        if outcomes is None:
            return found
        return sum(found.get(o, 0.0) for o in outcomes)

    async def two_sweeps(
        self, router: str, accounts: list[str], regions: int
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The full sweep (first sight), the unchanged one, and a groups-only one (a fresh
        collector without the topology reads: what c7n-org's policy reads), each with its
        throttling."""
        async with sweeps_api(MONGO_URL, AMQP_URL, self.db_name, self.sweeps_queue) as api:
            results = []
            for stored in ("first", "unchanged", "groups-only"):
                if stored == "groups-only":
                    await self.restart_collector(SECMONKEY_TOPOLOGY_ENABLED="false")
                throttled = rig_stats(router)["throttled"]
                result = await self.sweep(api, accounts, stored)
                result["throttled"] = rig_stats(router)["throttled"] - throttled
                results.append(result)
        return results[0], results[1], results[2]

    async def cleanup(self) -> None:
        from secmonkey.common import amqp, storage

        self.processes.stop_all()
        client = storage.connect(MONGO_URL)
        await client.drop_database(self.db_name)
        await client.close()
        connection = await amqp.connect(AMQP_URL)
        channel = await connection.channel()
        for queue in (self.auditor_queue, self.sweeps_queue):
            for name in (queue, f"{queue}.dead", f"{queue}.undelivered"):
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
        await connection.close()


def run_c7n(
    c7n_org: Path, router: str, config: Path, policy: Path, workers: int | None, n: int
) -> dict[str, Any]:
    out = WORK / f"c7n-out-{n}"
    shutil.rmtree(out, ignore_errors=True)
    cache = WORK / f"c7n-cache-{n}"
    cache.mkdir(parents=True, exist_ok=True)
    extra = {} if workers is None else {"C7N_ORG_PARALLEL": str(workers)}
    command = [
        str(c7n_org), "run", "-c", str(config), "-u", str(policy), "-s", str(out),
        "--cache-period", "0", "--cache-path", str(cache),
    ]  # fmt: skip
    throttled = rig_stats(router)["throttled"]
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - c7n-org from its own virtualenv
        command,
        env=clean_env(AWS_ENDPOINT_URL=router, **extra),
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    seconds = time.perf_counter() - started
    (WORK / f"c7n-{n}.log").write_text(done.stdout + done.stderr)
    covered = list(out.glob("*/*/*/metadata.json"))
    matched = 0
    for meta in covered:
        data = json.loads(meta.read_text())
        matched += next(m["Value"] for m in data["metrics"] if m["MetricName"] == "ResourceCount")
    return {
        "workers": workers,
        "seconds": seconds,
        "cpu": children_cpu() - cpu,
        "returncode": done.returncode,
        "regions": len(covered),
        "matched": matched,
        "throttled": rig_stats(router)["throttled"] - throttled,
        "tail": (done.stdout + done.stderr)[-800:],
    }


def stored(result: dict[str, Any]) -> str:
    if result["stored_seconds"] is not None:
        return f"{result['stored_seconds']:.1f}s"
    return f"not reached: {result['stored']}/{result['groups']} groups after the timeout"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def write_configs(state: dict[str, Any]) -> tuple[Path, Path, Path]:
    accounts = state["accounts"]
    regions = state["config"]["regions"]
    accounts_file = WORK / "accounts.yaml"
    entries = [
        {
            "id": a,
            "name": f"scale-{n + 1}",
            "role_arn": role_arn(a),
            "external_id": EXTERNAL_ID,
            "regions": regions,
        }
        for n, a in enumerate(accounts)
    ]
    accounts_file.write_text(yaml.safe_dump({"accounts": entries}, sort_keys=False))
    c7n_config = WORK / "c7n-accounts.yaml"
    c7n_accounts = [
        {
            "account_id": a,
            "name": f"scale-{n + 1}",
            "role": role_arn(a),
            "external_id": EXTERNAL_ID,
            "regions": regions,
        }
        for n, a in enumerate(accounts)
    ]
    c7n_config.write_text(json.dumps({"accounts": c7n_accounts}, indent=2))
    policy = WORK / "c7n-policy.yaml"
    policy.write_text(POLICY)
    return accounts_file, c7n_config, policy


def estate_arguments(parser: argparse.ArgumentParser) -> None:
    """The rig's shape: accounts, regions, groups per account-region, moto shards."""
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--regions", type=int, default=17, help=f"first N of {len(rig.REGIONS)}")
    parser.add_argument("--groups", type=int, default=20, help="groups per account-region")
    parser.add_argument("--shards", type=int, default=4, help="moto processes in the rig")
    parser.add_argument(
        "--auditors", type=int, default=1, help="auditor replicas (sharing the partitions)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    estate_arguments(parser)
    parser.add_argument(
        "--c7n-workers",
        default="16,32",
        help="worker counts tried beside c7n-org's default (C7N_ORG_PARALLEL)",
    )
    parser.add_argument("--keep-rig", action="store_true", help="leave the rig running")
    parser.add_argument(
        "--skip-c7n", action="store_true", help="secmonkey only (no comparison, RESULT nan)"
    )
    parser.add_argument(
        "--private",
        action="store_true",
        help="a RabbitMQ node and a mongo-compat server of this run's own (as make chaos "
        "does), not the machine's shared ones",
    )
    parser.add_argument(
        "--store-timeout",
        type=float,
        default=3600,
        help="seconds to wait for the auditor to store every group (then printed as not reached)",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ.update(AWS_ENV)
    infra = Processes(WORK / "infra-logs")
    try:
        if args.private:
            private_servers(infra)
        measure(args)
    finally:
        infra.stop_all()


def private_servers(infra: Processes) -> None:
    """A RabbitMQ node and a mongo-compat server of this run (bench/chaos/infra.py)."""
    global AMQP_URL, MONGO_URL
    import tempfile

    from bench.chaos.infra import Mongo, Rabbit

    state = Path(tempfile.mkdtemp(prefix="secmonkey-bench-scale-"))
    rabbit = Rabbit(infra, state, uuid.uuid4().hex[:6])
    rabbit.start()
    rabbit.ensure_vhost()
    mongo = Mongo(infra, state)
    mongo.start()
    AMQP_URL, MONGO_URL = rabbit.url, mongo.url
    print(f"private RabbitMQ node {rabbit.node} and mongo-compat on port {mongo.port}")


def measure(args: argparse.Namespace) -> None:

    config = rig.RigConfig(
        shards=args.shards,
        accounts=args.accounts,
        regions=list(rig.REGIONS[: args.regions]),
        groups=args.groups,
    )
    started = time.monotonic()
    state = rig.up(config)
    router = state["url"]
    print(
        f"rig: {args.accounts} accounts x {args.regions} regions x {args.groups} groups on "
        f"{args.shards} moto shards at {router} (ready in {time.monotonic() - started:.1f}s; "
        f"latency {config.latency_ms} ms, EC2 bucket {config.burst}/{config.rate} per s)"
    )
    print(load())
    accounts_file, c7n_config, policy = write_configs(state)
    accounts: list[str] = state["accounts"]
    secmonkey: Secmonkey | None = None
    try:
        secmonkey = Secmonkey(
            router, accounts_file, WORK / "logs", args.regions, args.store_timeout, args.auditors
        )
        full, again, bare = asyncio.run(secmonkey.two_sweeps(router, accounts, args.regions))
        print(
            f"secmonkey full sweep: {full['seconds']:.1f}s to the last SweepCompleted "
            f"({full['regions']} account-regions, {full['groups']} groups, "
            f"{full['incomplete']} incomplete {full['errors']}), collector CPU "
            f"{full['collector_cpu']:.1f}s, throttled {full['throttled']}"
        )
        print(
            f"secmonkey first sight stored: {stored(full)} from the request "
            f"(auditor CPU {full['auditor_cpu']:.1f}s; {full['stored_at_end']} of "
            f"{full['groups']} groups stored when the sweep ended)"
        )
        print(
            f"secmonkey unchanged sweep: {again['seconds']:.1f}s to the last SweepCompleted, "
            f"{stored(again)} until every group's last_seen moved "
            f"({again['incomplete']} incomplete), collector CPU {again['collector_cpu']:.1f}s, "
            f"auditor CPU {again['auditor_cpu']:.1f}s, throttled {again['throttled']}"
        )
        print(
            f"secmonkey groups-only sweep (a fresh collector without the topology reads, as "
            f"c7n-org's policy reads): {bare['seconds']:.1f}s to the last SweepCompleted "
            f"({bare['incomplete']} incomplete), collector CPU {bare['collector_cpu']:.1f}s, "
            f"throttled {bare['throttled']}"
        )
        rss = {n: peak_rss_mib(secmonkey.pid(n)) for n in ("collector", *secmonkey.auditors)}
        auditors = ", ".join(f"{rss[n]:.0f}" for n in secmonkey.auditors)
        print(
            f"peak RSS: collector {secmonkey.full_collector_rss:.0f} MiB (full and unchanged "
            f"sweeps; the groups-only collector {rss['collector']:.0f} MiB), auditor "
            f"{auditors} MiB ({len(secmonkey.auditors)} replica(s))"
        )
        print(load())
    finally:
        if secmonkey is not None:
            asyncio.run(secmonkey.cleanup())

    c7n_org, how = (None, "skipped (--skip-c7n)") if args.skip_c7n else ensure_c7n()
    print(f"cloud custodian: {how}" if c7n_org else f"cloud custodian unavailable: {how}")
    runs: list[dict[str, Any]] = []
    if c7n_org is not None:
        counts: list[int | None] = [None, *(int(w) for w in args.c7n_workers.split(",") if w)]
        for n, workers in enumerate(counts):
            run = run_c7n(c7n_org, router, c7n_config, policy, workers, n)
            runs.append(run)
            print(
                f"c7n-org run, workers {workers or 'default (cpu count x 4)'}: "
                f"{run['seconds']:.1f}s, CPU {run['cpu']:.1f}s, exit {run['returncode']}, "
                f"{run['regions']} account-regions, matched {run['matched']}, "
                f"throttled {run['throttled']}; {load()}"
            )
            if run["returncode"] != 0 or run["regions"] != len(accounts) * args.regions:
                print(f"c7n-org did not cover every account-region:\n{run['tail']}")
    print(load())
    if not args.keep_rig:
        rig.down()
    incomplete = full["incomplete"] + again["incomplete"] + bare["incomplete"]
    good = [
        r for r in runs if r["returncode"] == 0 and r["regions"] == len(accounts) * args.regions
    ]
    if not good:
        print(
            f"RESULT scale_vs_c7n_time_ratio=nan collector_cpu_vs_c7n=nan incomplete_sweeps={incomplete}"
        )
        return
    best = min(good, key=lambda r: r["seconds"])
    print(
        f"c7n-org best: {best['seconds']:.1f}s at workers {best['workers'] or 'default'} "
        f"(CPU {best['cpu']:.1f}s); secmonkey {full['seconds']:.1f}s (CPU {full['collector_cpu']:.1f}s)"
    )
    print(
        f"second (warm: clients and credentials cached) sweep vs c7n-org best: "
        f"time {again['seconds'] / best['seconds']:.3f}, "
        f"CPU {again['collector_cpu'] / best['cpu']:.3f}"
    )
    print(
        f"like for like (groups only, a fresh collector) vs c7n-org best: "
        f"time {bare['seconds'] / best['seconds']:.3f}, "
        f"CPU {bare['collector_cpu'] / best['cpu']:.3f}"
    )
    print(
        f"RESULT scale_vs_c7n_time_ratio={full['seconds'] / best['seconds']:.3f} "
        f"collector_cpu_vs_c7n={full['collector_cpu'] / best['cpu']:.3f} "
        f"incomplete_sweeps={incomplete}"
    )


if __name__ == "__main__":
    main()
