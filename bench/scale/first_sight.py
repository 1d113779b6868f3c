"""`make bench-first-sight`: the collector and the auditor each alone on the machine, at
100 accounts x 17 regions x 20 groups on the AWS stand-in (bench/scale/rig.py).

`make bench-scale` runs them together, as in production, but on this machine the stand-in
(AWS, elsewhere in production) takes about a core during the sweep, so its first-sight
figure mixes the auditor's speed with the rig's. Here, in one sitting:

1. the collector and the auditor start (the auditor declares its partition queues), and
   the auditor is stopped;
2. a sweep of every account is asked through the API and timed from the request to the
   last SweepCompleted, the snapshots waiting in the auditor's queues: the collector's
   rate, groups per second;
3. the auditor starts again on them and is timed until it has stored every group (its
   `secmonkey_auditor_groups_applied_total` counter): its first-sight rate, with the
   CPU seconds of the auditor and of the MongoDB-protocol server (its process: `--private`,
   the default here, runs a RabbitMQ node and a mongo-compat server of this run's own);
   also printed: its start-up (process start to the first group stored: imports, index
   checks, partition claims), and its rate after it, which is what a running auditor
   meets when a sweep's snapshots arrive.

Last line: `RESULT first_sight_vs_sweep_rate=<auditor groups/s / collector groups/s>
auditor_ms_per_group=<CPU> mongo_ms_per_group=<CPU>` (the auditor keeps up when the
ratio is at least 1). Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.harness import Processes, wait_port  # noqa: E402
from bench.scale import rig  # noqa: E402
from bench.scale import run as scale  # noqa: E402
from bench.sweeps_api import ask_sweep, sweeps_api  # noqa: E402


async def measure(secmonkey: scale.Secmonkey, accounts: list[str], mongo_pid: int) -> None:
    for name in secmonkey.auditors:
        auditor = secmonkey.processes.children[name].proc
        assert auditor is not None
        secmonkey.processes.signal(name, signal.SIGTERM)
        await asyncio.to_thread(auditor.wait, 60)
    async with sweeps_api(
        scale.MONGO_URL, scale.AMQP_URL, secmonkey.db_name, secmonkey.sweeps_queue
    ) as api:
        collector_cpu = scale.cpu_seconds(secmonkey.pid("collector"))
        started = time.perf_counter()
        sweep_id = await ask_sweep(api, accounts)
        while True:
            if await secmonkey.regions_swept() >= len(accounts) * secmonkey.regions:
                status = (await api.get(f"/sweeps/{sweep_id}")).json()
                if status["status"] not in ("pending", "running"):
                    break
            if time.perf_counter() - started > 3600:
                raise SystemExit("sweep unfinished after an hour")
            await asyncio.sleep(0.5)
        swept = float(status["duration_seconds"])
        collector_cpu = scale.cpu_seconds(secmonkey.pid("collector")) - collector_cpu
    groups = int(status["groups"])
    incomplete = len(accounts) * secmonkey.regions - int(status["regions_complete"])
    print(
        f"collector alone: {groups} groups in {swept:.1f}s ({groups / swept:.0f} groups/s), "
        f"CPU {collector_cpu:.1f}s, {incomplete} incomplete account-regions"
    )
    for name in secmonkey.auditors:
        secmonkey.processes.start(name)
    mongo_cpu = scale.cpu_seconds(mongo_pid)
    started = time.perf_counter()
    for port in secmonkey.auditor_ports:
        await asyncio.to_thread(wait_port, port, 120)
    auditor_cpu = secmonkey.auditor_cpu()
    first: float | None = None  # when the first group was stored (after start-up)
    while (done := await secmonkey.applied(("created",))) < groups:
        if first is None and done > 0:
            first = time.perf_counter()
        if secmonkey.processes.crashed():
            raise SystemExit(f"crashed: {secmonkey.processes.crashed()}")
        if time.perf_counter() - started > 3600:
            raise SystemExit("the auditor did not store every group within an hour")
        await asyncio.sleep(0.25)
    stored = time.perf_counter() - started
    auditor_cpu = secmonkey.auditor_cpu() - auditor_cpu
    mongo_cpu = scale.cpu_seconds(mongo_pid) - mongo_cpu
    replicas = len(secmonkey.auditors)
    print(
        f"auditor alone ({replicas} replica{'s' if replicas > 1 else ''}; first sight, from "
        f"its start): {groups} groups in {stored:.1f}s "
        f"({groups / stored:.0f} groups/s), CPU auditor {auditor_cpu:.1f}s "
        f"({1000 * auditor_cpu / groups:.2f} ms per group), mongo-compat {mongo_cpu:.1f}s "
        f"({1000 * mongo_cpu / groups:.2f} ms per group)"
    )
    running = stored - (first - started if first is not None else 0.0)
    print(
        f"  of which start-up (process start to the first group stored): {stored - running:.1f}s; "
        f"from the first group stored: {groups / running:.0f} groups/s "
        f"({swept / running:.3f} of the collector's rate)"
    )
    print(scale.load())
    print(
        f"RESULT first_sight_vs_sweep_rate={swept / stored:.3f} "
        f"auditor_ms_per_group={1000 * auditor_cpu / groups:.2f} "
        f"mongo_ms_per_group={1000 * mongo_cpu / groups:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    scale.estate_arguments(parser)
    parser.add_argument("--keep-rig", action="store_true", help="leave the rig running")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    scale.WORK.mkdir(parents=True, exist_ok=True)
    os.environ.update(scale.AWS_ENV)
    infra = Processes(scale.WORK / "infra-logs")
    secmonkey: scale.Secmonkey | None = None
    try:
        scale.private_servers(infra)
        config = rig.RigConfig(
            shards=args.shards,
            accounts=args.accounts,
            regions=list(rig.REGIONS[: args.regions]),
            groups=args.groups,
        )
        state = rig.up(config)
        print(
            f"rig: {args.accounts} accounts x {args.regions} regions x {args.groups} groups "
            f"on {args.shards} moto shards"
        )
        accounts_file, _, _ = scale.write_configs(state)
        secmonkey = scale.Secmonkey(
            state["url"], accounts_file, scale.WORK / "logs", args.regions, 3600, args.auditors
        )
        asyncio.run(measure(secmonkey, state["accounts"], infra.pid("mongo")))
    finally:
        if secmonkey is not None:
            asyncio.run(secmonkey.cleanup())
        if not args.keep_rig:
            rig.down()
        infra.stop_all()


if __name__ == "__main__":
    main()
