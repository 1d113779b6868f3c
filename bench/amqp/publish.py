"""Publishing CPU: what a confirmed publish costs the publishing process, through
aio-pika's `Exchange.publish` (the Publisher's way until the thirteenth session) and
through `secmonkey.common.amqp.Publisher.publish_many` (aiormq's channel under aio-pika's,
not waiting for each frame's write; the broker's confirms are still awaited).

The auditor publishes ~2.2 events per group at first sight, each confirmed: py-spy gave
publishing ~19 % of its samples. Here, on a virtual host of its own (`bench-amqp`, deleted
at the end), `secmonkey.events` bound to one queue, `--messages` Event-sized bodies (~600
bytes) are published in batches of `--batch` (an auditor's store of events), the two ways
alternating `--rounds` times; CPU is this process's (user + system) over each run.

Prints µs of CPU per message and messages/s for every run, then
`RESULT publish_many_vs_exchange_cpu=<x> us_per_message_exchange=<a>
us_per_message_publish_many=<b>` (medians; lower x is better).

Run: `make bench-amqp` (`AMQP_ARGS="--messages 40000"`).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from secmonkey.common import amqp  # noqa: E402
from secmonkey.common.messages import EVENTS_EXCHANGE  # noqa: E402

VHOST = "bench-amqp"
EXCHANGE = EVENTS_EXCHANGE
BODY = b'{"event_id":"' + b"e" * 40 + b'","diff":"' + b"d" * 520 + b'"}'


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vhost(action: str) -> str:
    script = ROOT / "deploy" / "local" / "vhosts.py"
    done = subprocess.run(
        [sys.executable, str(script), action, VHOST], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


async def run(args: argparse.Namespace) -> None:
    connection = await aio_pika.connect_robust(vhost("create"))
    try:
        publisher = await amqp.Publisher.open(connection)  # declares the product's exchanges
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(EXCHANGE)
        queue = await channel.declare_queue("bench.publish.q", auto_delete=True)
        await queue.bind(exchange, "#")

        async def through_exchange(first: int) -> None:
            await asyncio.gather(
                *[
                    exchange.publish(
                        aio_pika.Message(
                            BODY,
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=f"m{n}",
                        ),
                        routing_key="group.created",
                        mandatory=True,
                    )
                    for n in range(first, first + args.batch)
                ]
            )

        async def through_publisher(first: int) -> None:
            await publisher.publish_many(
                EXCHANGE,
                [("group.created", BODY, f"m{n}") for n in range(first, first + args.batch)],
            )

        ways: dict[str, Callable[[int], Awaitable[None]]] = {
            "exchange": through_exchange,
            "publish_many": through_publisher,
        }
        figures: dict[str, list[float]] = {name: [] for name in ways}
        for round_ in range(args.rounds):
            order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
            for name in order:
                started_cpu, started = cpu(), time.perf_counter()
                for first in range(0, args.messages, args.batch):
                    await ways[name](first)
                spent, seconds = cpu() - started_cpu, time.perf_counter() - started
                per = 1e6 * spent / args.messages
                figures[name].append(per)
                print(
                    f"round {round_ + 1} {name:13s} {per:6.1f} µs CPU a message, "
                    f"{args.messages / seconds:7.0f} messages/s",
                    flush=True,
                )
                await queue.purge()
        old, new = (statistics.median(figures[n]) for n in ("exchange", "publish_many"))
        print(
            f"Exchange.publish (before) {old:.1f} µs a message; Publisher.publish_many "
            f"(now) {new:.1f} µs: {new / old:.2f} of the CPU"
        )
        print(
            f"RESULT publish_many_vs_exchange_cpu={new / old:.3f} "
            f"us_per_message_exchange={old:.1f} us_per_message_publish_many={new:.1f}"
        )
    finally:
        await connection.close()
        vhost("delete")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
