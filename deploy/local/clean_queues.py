"""Before a test run: remove what earlier test runs left on the local RabbitMQ.

Tests use uniquely named queues (`test.*`, `e2e.*`, `run.*`, `bench.*`) and delete them,
but a run that was killed leaves them behind, bound to the exchanges, filling up with
every later message. Production consumer queues that no service consumes are purged of
what tests published into them. Only a broker this machine manages (rabbitmqctl works)
is touched; anything else is left alone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import aio_pika

TEST_PREFIXES = ("test.", "e2e.", "run.", "bench.")
PRODUCTION = ("auditor.snapshots", "notifier.events", "secmonkey.sweeps")


def _queues() -> list[tuple[str, int]] | None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    if not os.path.exists(ctl):
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fixed arguments
            [ctl, "list_queues", "name", "consumers", "--no-table-headers", "--quiet"],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            rows.append((parts[0], int(parts[1])))
    return rows


async def main() -> None:
    rows = _queues()
    if rows is None:
        print("[clean] rabbitmqctl unavailable: leaving the broker as it is")
        return
    url = os.environ.get("SECMONKEY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    connection = await aio_pika.connect(url)
    deleted = purged = 0
    async with connection:
        channel = await connection.channel()
        for name, consumers in rows:
            if name.startswith(TEST_PREFIXES) and consumers == 0:
                await channel.queue_delete(name)
                deleted += 1
            elif name in PRODUCTION and consumers == 0:
                await (await channel.get_queue(name)).purge()
                purged += 1
    print(f"[clean] deleted {deleted} leftover test queue(s), purged {purged} idle queue(s)")


if __name__ == "__main__":
    asyncio.run(main())
