"""Chaos suite: the whole system with changes flowing, one fault at a time.

Each fault: `--warmup` seconds of steady changes, inject, hold for the fault's duration,
restore, then wait (≤ `--catchup-timeout`) until every service is ready, every alert for
events up to the restore is delivered and the consumer queues are drained; that wait,
from the moment the restore completed, is the recovery time. At the
end the changes keep flowing while the harness waits (≤ `--catchup-timeout`) for the last
alerts, then it counts by CloudEvents `id` (webhook) and `X-Secmonkey-Event-Id` (email),
for every event in the run's `events` collection (both subscriptions match every type),
each fault owning the events whose `at` falls from its warm-up to the next fault's:
missing, duplicated (arrivals beyond the first) and dead-lettered (`*.dead` and
`*.undelivered` queues on the run's virtual host, growth during the fault).

Everything runs on a private RabbitMQ node and a private mongo-compat server
(bench/chaos/infra.py); the machine's shared ones are never touched.

Run: `make chaos` (all faults, default durations) or
`uv run --frozen python bench/chaos/run.py --short --faults rabbit,kill-auditor`;
`--replicas collector=2,auditor=3,notifier=2,api=2` runs several processes of each
service against the one database and broker (kill-<service> kills the replica holding
the most unacknowledged messages, and starts it again; the counting is unchanged).
Last line: `RESULT chaos_missing=<n> chaos_duplicated=<n> chaos_dead_lettered=<n> recover_p95_s=<x>`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pymongo.errors import PyMongoError  # noqa: E402

from bench.chaos.faults import Fault, catalogue  # noqa: E402
from bench.chaos.system import CHANNELS, System, parse_replicas  # noqa: E402
from bench.harness import percentile  # noqa: E402


@dataclass
class Outcome:
    fault: Fault
    hold: float
    window_start: float
    recover_s: float | None = None
    dead_lettered: int = 0
    notes: str = ""


def keep_alive(system: System, outcome: Outcome | None, skip: str = "") -> None:
    """Restart a service that died by itself (not the one under fault), noting it."""
    for name in system.processes.crashed():
        if name == "moto":
            raise SystemExit(f"the simulated estate (moto) exited: {system.state}/logs/moto.log")
        if system.service_of(name) is not None and name not in (skip, *system.killed.values()):
            print(f"  !! {name} exited by itself; restarting", flush=True)
            if outcome is not None:
                outcome.notes += f" {name}-crashed"
            system.restart(name)


def caught_up(system: System, until: float) -> bool:
    depths = system.depths()
    if not depths or system.backlog(depths) or not system.all_ready():
        return False
    try:
        return system.undelivered(until) == 0
    except PyMongoError:
        return False


def wait_caught_up(
    system: System, since: float, until: float, timeout: float, retries: bool = False
) -> float | None:
    """Seconds from `since` until caught up (and, with `retries`, no delivery pending)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        keep_alive(system, None)
        if caught_up(system, until) and (not retries or system.pending_deliveries() == 0):
            return time.time() - since
        time.sleep(1)
    return None


def run_fault(system: System, fault: Fault, hold: float, args: argparse.Namespace) -> Outcome:
    outcome = Outcome(fault, hold, time.time())
    print(
        f"== {fault.name}: {fault.what}; warm-up {args.warmup:.0f}s, hold {hold:.0f}s", flush=True
    )
    dead_before = system.dead_lettered(system.depths())
    end = time.monotonic() + args.warmup
    while time.monotonic() < end:
        keep_alive(system, outcome)
        time.sleep(1)
    outcome.notes += " " + (fault.inject(system) or "")
    end = time.monotonic() + hold
    while time.monotonic() < end:
        time.sleep(1)
    fault.restore(system)
    restored = time.time()
    outcome.recover_s = wait_caught_up(system, restored, restored, args.catchup_timeout)
    outcome.dead_lettered = system.dead_lettered(system.depths()) - dead_before
    shown = "never" if outcome.recover_s is None else f"{outcome.recover_s:.1f}s"
    print(f"   restored; caught up after {shown}", flush=True)
    return outcome


def report(system: System, outcomes: list[Outcome], timeout: float) -> None:
    events, seen = system.events(), system.arrivals()
    starts = [o.window_start for o in outcomes] + [float("inf")]
    header = f"{'fault':<15}{'hold s':>7}{'events':>8}"
    header += "".join(f"{c + ' miss':>13}{c + ' dup':>12}" for c in CHANNELS)
    print()
    print(header + f"{'dead':>6}{'recover s':>11}  notes")
    rows = [("(first sweep)", None, float("-inf"), starts[0])]
    rows += [(o.fault.name, o, starts[i], starts[i + 1]) for i, o in enumerate(outcomes)]
    totals = {"missing": 0, "dup": 0}
    for name, outcome, lo, hi in rows:
        ids = [e for e, at in events.items() if lo <= at < hi]
        line = f"{name:<15}{outcome.hold if outcome else 0:>7.0f}{len(ids):>8}"
        for channel in CHANNELS:
            missing = sum(1 for e in ids if e not in seen[channel])
            dup = sum(max(0, len(seen[channel].get(e, [])) - 1) for e in ids)
            totals["missing"] += missing
            totals["dup"] += dup
            line += f"{missing:>13}{dup:>12}"
        if outcome is not None:
            rec = "never" if outcome.recover_s is None else f"{outcome.recover_s:.1f}"
            line += f"{outcome.dead_lettered:>6}{rec:>11}  {outcome.notes.strip()}"
        print(line)
    dead = system.dead_lettered(system.depths())
    recoveries = [timeout if o.recover_s is None else o.recover_s for o in outcomes]
    p95 = percentile(recoveries, 95) if recoveries else float("nan")
    print(f"dead-lettered now (all *.dead / *.undelivered queues): {dead}")
    print(
        f"ambiguous deliveries (an attempt sent, never answered): {system.ambiguous_deliveries()}"
    )
    print(f"deliveries still pending: {system.pending_deliveries()}")
    print(
        f"RESULT chaos_missing={totals['missing']} chaos_duplicated={totals['dup']} "
        f"chaos_dead_lettered={dead} recover_p95_s={p95:.1f}"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    faults = catalogue()
    parser.add_argument("--faults", default=",".join(faults), help="comma-separated, in order")
    parser.add_argument("--hold", action="append", default=[], metavar="FAULT=SECONDS")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every hold")
    parser.add_argument("--warmup", type=float, default=120.0, help="changes before each fault")
    parser.add_argument("--catchup-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--short", action="store_true", help="holds ≤ 15 s, warm-up 15 s, catch-up ≤ 300 s"
    )
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--groups", type=int, default=50, help="per account and region")
    parser.add_argument("--changes", type=int, default=3, help="changes per round")
    parser.add_argument("--change-every", type=float, default=60.0)
    parser.add_argument("--sweep-interval", type=float, default=60.0)
    parser.add_argument("--log-level", default="INFO", help="of the services (logs kept)")
    parser.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument(
        "--replicas",
        default="",
        metavar="SERVICE=N,...",
        help="processes per service, e.g. collector=2,auditor=3,notifier=2,api=2 (default 1); "
        "kill-<service> kills the busiest replica",
    )
    args = parser.parse_args(argv)
    try:
        args.replicas = parse_replicas(args.replicas)
    except ValueError as exc:
        parser.error(str(exc))
    holds = {name: f.hold * args.scale for name, f in faults.items()}
    if args.short:
        holds = {name: min(h, 15.0) for name, h in holds.items()}
        args.warmup, args.catchup_timeout = 15.0, min(args.catchup_timeout, 300.0)
    for item in args.hold:
        name, _, seconds = item.partition("=")
        holds[name] = float(seconds)
    unknown = [n for n in args.faults.split(",") if n not in faults]
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(faults)}")
    args.plan = [(faults[n], holds[n]) for n in args.faults.split(",")]
    return args


def main() -> None:
    args = parse()
    system = System(args, "chaos")
    outcomes: list[Outcome] = []
    try:
        system.start()
        print("system up; first sweep ...", flush=True)
        deadline = time.monotonic() + args.catchup_timeout
        while not system.events() and time.monotonic() < deadline:
            time.sleep(1)
        first = wait_caught_up(system, time.time(), time.time() + 1e9, args.catchup_timeout)
        print(f"first sweep delivered after {first}s", flush=True)
        for fault, hold in args.plan:
            outcomes.append(run_fault(system, fault, hold, args))
        print("== final catch-up (changes still flowing)", flush=True)
        wait_caught_up(system, time.time(), time.time() - 5, args.catchup_timeout, retries=True)
        report(system, outcomes, args.catchup_timeout)
    finally:
        system.stop()
        if not args.keep:
            for sub in ("mongo-data", "rabbit-mnesia"):
                shutil.rmtree(system.state / sub, ignore_errors=True)
        print(f"logs in {system.state}/logs")


if __name__ == "__main__":
    main()
