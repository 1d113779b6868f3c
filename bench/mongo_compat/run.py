"""mongo-compat's wait for SQLite's write lock: concurrent writers with SQLite's own busy
back-off (`-busy sqlite`) against mongo-compat's polling handler (`-busy poll`, the default).

Two servers of deploy/local/mongo-compat, each on its own loopback port and data
directory (never the machine's shared one), one per `-busy` value. N asyncio tasks of one
PyMongo client each write `--writes / N` times, alternating an insert of a 3 KB document
and an update of the one before; the runs alternate between the servers (`--rounds`
pairs, the order flipped each round) so that a drift of the machine falls on both.

Prints writes/s, p50 / p95 and the slowest write for each run, then
`RESULT busy_poll_vs_sqlite_writes=<x> slowest_ms_sqlite=<a> slowest_ms_poll=<b>` for the
largest concurrency (medians over the rounds).

Run: `uv run --frozen python bench/mongo_compat/run.py` (`--writers 4 8`, `--writes 1600`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pymongo import AsyncMongoClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.chaos.infra import mongo_compat_binary  # noqa: E402
from bench.harness import Processes, free_port, wait_port  # noqa: E402

PAD = "y" * 3000


async def writers(url: str, tasks: int, writes: int) -> tuple[float, list[float]]:
    """Writes per second and each write's milliseconds."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url, maxPoolSize=64)
    try:
        db = client.bench_busy
        await db.drop_collection("writes")
        await db.writes.insert_one({"_id": "warm"})
        latencies: list[float] = []

        async def worker(w: int) -> None:
            for i in range(writes // tasks):
                started = time.perf_counter()
                if i % 2:
                    await db.writes.update_one({"_id": f"{w}:{i - 1}"}, {"$set": {"v": i}})
                else:
                    await db.writes.insert_one({"_id": f"{w}:{i}", "pad": PAD})
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(tasks)))
        elapsed = time.perf_counter() - started
        await db.drop_collection("writes")
        return len(latencies) / elapsed, latencies
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--writes", type=int, default=1600, help="writes per run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    binary = mongo_compat_binary()
    with tempfile.TemporaryDirectory(prefix="bench-busy-") as tmp:
        processes = Processes(Path(tmp) / "logs")
        urls: dict[str, str] = {}
        try:
            for mode in ("sqlite", "poll"):
                port = free_port()
                data = Path(tmp) / f"data-{mode}"
                data.mkdir()
                argv = [str(binary), "-listen", f"127.0.0.1:{port}", "-data", str(data)]
                processes.spawn(f"mongo-{mode}", [*argv, "-busy", mode])
                wait_port(port, timeout=60)
                urls[mode] = f"mongodb://127.0.0.1:{port}/"
            results: dict[tuple[str, int], list[tuple[float, float]]] = {}
            for tasks in args.writers:
                for round_ in range(args.rounds):
                    for mode in ("sqlite", "poll") if round_ % 2 == 0 else ("poll", "sqlite"):
                        rate, ms = asyncio.run(writers(urls[mode], tasks, args.writes))
                        q = statistics.quantiles(ms, n=20)
                        print(
                            f"{tasks:2d} writers, -busy {mode:6s}: {rate:6.0f} writes/s  "
                            f"p50 {q[9]:5.1f} ms  p95 {q[18]:5.1f} ms  slowest {max(ms):6.1f} ms",
                            flush=True,
                        )
                        results.setdefault((mode, tasks), []).append((rate, max(ms)))
        finally:
            processes.stop_all()
    top = max(args.writers)
    rate = {m: statistics.median(r for r, _ in results[(m, top)]) for m in ("sqlite", "poll")}
    slow = {m: statistics.median(s for _, s in results[(m, top)]) for m in ("sqlite", "poll")}
    print(
        f"at {top} writers (medians of {args.rounds}): {rate['sqlite']:.0f} -> "
        f"{rate['poll']:.0f} writes/s, slowest {slow['sqlite']:.0f} -> {slow['poll']:.0f} ms"
    )
    print(
        f"RESULT busy_poll_vs_sqlite_writes={rate['poll'] / rate['sqlite']:.2f} "
        f"slowest_ms_sqlite={slow['sqlite']:.0f} slowest_ms_poll={slow['poll']:.0f}"
    )


if __name__ == "__main__":
    main()
