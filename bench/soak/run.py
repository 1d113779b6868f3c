"""Soak: the simulated estate at ten times `make run`'s change rate for 30 minutes.

The whole system as bench/chaos starts it (private RabbitMQ node and mongo-compat server,
the four services, moto with the change generator, webhook and SMTP sinks), no faults.
Each minute: every service's RSS, the queue depths of the run's virtual host, and the
alert latency p95 of the webhooks that arrived in that minute (arrival minus the
event's CloudEvents `time`, i.e. from the collector's observation, sweep wait excluded).
Memory growth per service is its last RSS against its RSS at the end of `--warmup`.

Run: `make soak` or `uv run --frozen python bench/soak/run.py --minutes 5 --warmup 2`.
Last line: `RESULT soak_rss_growth_pct=<max over services after warm-up> alert_p95_s=<x>`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pymongo.errors import PyMongoError  # noqa: E402

from bench.chaos.system import SERVICES, System  # noqa: E402
from bench.harness import percentile, rss_kib  # noqa: E402

MAKE_RUN_CHANGES, MAKE_RUN_EVERY = 3, 60.0  # deploy/local/run.py: 3 changes a minute


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before the baseline")
    parser.add_argument("--rate", type=float, default=10.0, help="times make run's change rate")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--groups", type=int, default=50, help="per account and region")
    parser.add_argument("--change-every", type=float, default=MAKE_RUN_EVERY / 10)
    parser.add_argument("--sweep-interval", type=float, default=60.0)
    parser.add_argument("--log-level", default="WARNING", help="of the services (logs kept)")
    parser.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    # changes per round so that rounds every --change-every give `rate` x make run's rate
    per_second = MAKE_RUN_CHANGES / MAKE_RUN_EVERY * args.rate
    args.changes = max(1, round(per_second * args.change_every))
    return args


def main() -> None:
    args = parse()
    system = System(args, "soak")
    baseline: dict[str, int] = {}
    last: dict[str, int] = {}
    latencies: list[float] = []
    try:
        system.start()
        print(
            f"soak: {args.changes} changes every {args.change_every:.0f}s "
            f"({args.rate:g}x make run) for {args.minutes:g} min",
            flush=True,
        )
        started = time.monotonic()
        counted: set[tuple[str, float]] = set()
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(args.interval)
            if "moto" in system.processes.crashed():
                print(f"!! the simulated estate (moto) exited; see {system.state}/logs/moto.log")
                break
            for name in system.processes.crashed():
                if name in SERVICES:
                    print(f"  !! {name} exited by itself; restarting", flush=True)
                    system.restart(name)
            rss = {s: rss_kib(system.processes.pid(s)) for s in SERVICES}
            fresh = []
            for arrivals in system.arrivals()["webhook"].values():
                for a in arrivals:
                    if (a.event_id, a.arrival) not in counted and a.event_time:
                        counted.add((a.event_id, a.arrival))
                        fresh.append(a.arrival - a.event_time)
            depths = system.depths()
            queues = " ".join(f"{n}={r + u}" for n, (r, u) in sorted(depths.items()))
            p95 = f"{percentile(fresh, 95):.2f}s" if fresh else "-"
            mem = " ".join(f"{s}={rss[s] / 1024:.0f}MiB" for s in SERVICES)
            elapsed = (time.monotonic() - started) / 60
            print(
                f"[{elapsed:5.1f} min] rss {mem} | queues {queues} | alerts {len(fresh)} p95 {p95}"
            )
            if time.monotonic() - started >= args.warmup * 60:
                if not baseline:
                    baseline = dict(rss)
                else:
                    latencies.extend(fresh)
                last = rss
        try:
            print(
                f"events recorded: {len(system.events())}; undelivered now: {system.undelivered()}"
            )
        except PyMongoError as exc:
            print(f"could not count events: {exc}")
    finally:
        system.stop()
        for sub in ("mongo-data", "rabbit-mnesia"):
            shutil.rmtree(system.state / sub, ignore_errors=True)
        print(f"logs in {system.state}/logs")
    growth = {s: 100.0 * (last[s] - baseline[s]) / baseline[s] for s in SERVICES if baseline.get(s)}
    for s, g in growth.items():
        print(f"{s:<10} rss {baseline[s] / 1024:.0f} -> {last[s] / 1024:.0f} MiB ({g:+.1f} %)")
    worst = max(growth.values()) if growth else float("nan")
    p95 = percentile(latencies, 95) if latencies else float("nan")
    print(f"RESULT soak_rss_growth_pct={worst:.1f} alert_p95_s={p95:.2f}")


if __name__ == "__main__":
    main()
