"""Crash safety: a real auditor process is SIGKILLed in the middle of a 5,000-group sweep.

A fresh queue holds a complete sweep of 5,000 groups seen for the first time (every one
a change: a revision, 500 issues, 5,500 events), then a later sweep that changes 40 of
them (20 open a finding, 20 fix one), finds 10 new ones and loses 10.
`python -m secmonkey.auditor` consumes them and is killed with SIGKILL in the middle of
the 5,000-group sweep, then started again. Afterwards every change must be recorded
exactly once, and every event stored exactly once.

(The later sweep is small because on FerretDB, which the tests run on, every update of
an item costs time proportional to the size of the collection.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractRobustConnection

from secmonkey.common import amqp
from secmonkey.common.canonical import GroupSnapshot
from secmonkey.common.messages import SnapshotBatch, SweepCompleted
from secmonkey.common.storage import Database
from tests.integration.auditor.kit import ACCOUNT, REGION, at, ingress, key, snap
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# The issue asks for 5,000 (about 100 s here on FerretDB); CI may set fewer.
N = int(os.environ.get("SECMONKEY_CRASH_TEST_GROUPS", "5000"))
BATCH = 200
SSH_WORLD = ingress(22, "0.0.0.0/0")
RDP_WORLD = ingress(3389, "0.0.0.0/0")
INTERNAL = ingress(443, "10.0.0.0/8")


def gid(i: int) -> str:
    return f"sg-{i:05d}"


def first(i: int) -> GroupSnapshot:
    return snap(gid(i), SSH_WORLD if i % 10 == 0 else INTERNAL, name=f"g{i}")


OPENS = [i for i in range(N) if i % 250 == 1]  # 20: get an RDP rule open to the world
FIXES = [i for i in range(N) if i % 250 == 10]  # 20: had SSH open (i % 10 == 0), lose it
CHANGED = OPENS + FIXES
DELETED = [i for i in range(N) if i % 500 == 99]  # 10: absent from the second sweep
NEW = [N + j for j in range(10)]


def second(i: int) -> GroupSnapshot:
    if i in OPENS:
        return snap(gid(i), RDP_WORLD, name=f"g{i}")
    if i in FIXES:
        return snap(gid(i), INTERNAL, name=f"g{i}")
    return snap(gid(i), INTERNAL, name=f"g{i}")  # new groups


def sweeps() -> list[list[SnapshotBatch | SweepCompleted]]:
    """The first sweep in full; of the second only what changed is sent (as events would)."""
    out: list[list[SnapshotBatch | SweepCompleted]] = []
    seen_b = [gid(i) for i in range(N) if i not in DELETED] + [gid(i) for i in NEW]
    for name, seconds, groups, ids in (
        ("sweep-a", 0, [first(i) for i in range(N)], [gid(i) for i in range(N)]),
        ("sweep-b", 3600, [second(i) for i in CHANGED + NEW], seen_b),
    ):
        messages: list[SnapshotBatch | SweepCompleted] = []
        out.append(messages)
        for start in range(0, len(groups), BATCH):
            messages.append(
                SnapshotBatch(
                    sweep_id=name,
                    account_id=ACCOUNT,
                    region=REGION,
                    observed_at=at(seconds + start / 1000),
                    groups=groups[start : start + BATCH],
                )
            )
        messages.append(
            SweepCompleted(
                sweep_id=name,
                account_id=ACCOUNT,
                region=REGION,
                observed_at=at(seconds + 30),
                started_at=at(seconds),
                group_ids=ids,
                complete=True,
            )
        )
    return out


@pytest_asyncio.fixture
async def queue(rabbit: AbstractRobustConnection, unique: str) -> AsyncIterator[amqp.QueueSpec]:
    spec = amqp.QueueSpec(f"test.auditor.crash.{unique}", None)
    channel = await rabbit.channel()
    await amqp.declare_queue(channel, spec)
    yield spec
    await channel.queue_delete(spec.name)
    await channel.queue_delete(spec.dead_letter_queue)
    await channel.close()


def start_auditor(
    db: Database, queue: amqp.QueueSpec, mongo_url: str, amqp_url: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SECMONKEY_MONGO_URL": mongo_url,
        "SECMONKEY_MONGO_DB": db.name,
        "SECMONKEY_AMQP_URL": amqp_url,
        "SECMONKEY_AUDITOR_QUEUE": queue.name,
        "SECMONKEY_PARTITIONS": "0",  # the test publishes to this one queue
        "SECMONKEY_AUDITOR_ROUTING_KEYS": "[]",
        "SECMONKEY_AUDITOR_PORT": str(free_port()),
        "SECMONKEY_AUDITOR_PUBLISH_EVENTS": "false",
        "SECMONKEY_PREFETCH": "8",
        "SECMONKEY_LOG_LEVEL": "WARNING",
    }
    env.pop("SECMONKEY_RULES_FILE", None)
    return subprocess.Popen([sys.executable, "-m", "secmonkey.auditor"], env=env)


async def wait_for(
    db: Database, collection: str, doc_id: str, proc: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while await db[collection].find_one({"_id": doc_id}, {"_id": 1}) is None:
        assert proc.poll() is None, f"the auditor exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{collection} {doc_id} did not appear in {timeout}s"
        await asyncio.sleep(0.3)


async def publish(
    rabbit: AbstractRobustConnection,
    queue: amqp.QueueSpec,
    messages: list[SnapshotBatch | SweepCompleted],
) -> None:
    publisher = await amqp.Publisher.open(rabbit)
    for start in range(0, len(messages), 10):
        await publisher.publish_many(
            "", [(queue.name, m, None) for m in messages[start : start + 10]]
        )
    await publisher.close()


async def drained(rabbit: AbstractRobustConnection, queue: amqp.QueueSpec) -> None:
    """Nothing left to deliver, and time for the last delivery's writes and ack."""
    channel = await rabbit.channel()
    deadline = time.monotonic() + 600
    while (await channel.declare_queue(queue.name, passive=True)).declaration_result.message_count:
        assert time.monotonic() < deadline, "the queue did not drain"
        await asyncio.sleep(0.5)
    await channel.close()
    await asyncio.sleep(3)


async def test_sigkill_mid_sweep_then_restart_records_everything_exactly_once(
    db: Database,
    rabbit: AbstractRobustConnection,
    queue: amqp.QueueSpec,
    mongo_url: str,
    amqp_url: str,
) -> None:
    first_sweep, second_sweep = sweeps()
    await publish(rabbit, queue, first_sweep)
    proc = start_auditor(db, queue, mongo_url, amqp_url)
    try:
        # Kill in the middle of the 5,000-group sweep.
        await wait_for(db, "items", key(gid(N // 2)), proc, timeout=400)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = len(await db.items.find({}, {"_id": 1}).to_list(None))
        proc = start_auditor(db, queue, mongo_url, amqp_url)
        await wait_for(db, "items", key(gid(N - 1)), proc, timeout=400)
        await drained(rabbit, queue)
        # The second sweep is sent once the first is in: a redelivered batch of the first
        # sweep arriving after the second would be an older observation, which by design
        # never rewrites history (it is dropped), and the counts below would differ.
        await publish(rabbit, queue, second_sweep)
        await wait_for(db, "revisions", f"{key(gid(DELETED[-1]))}:2", proc, timeout=400)
        await drained(rabbit, queue)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    changed, deleted = CHANGED, DELETED
    assert 0 < killed_at < N, "the kill came in the middle of the first sweep"

    revisions = await db.revisions.find({}, {"key": 1, "seq": 1, "change_type": 1}).to_list(None)
    by_key: dict[str, list[tuple[int, str]]] = {}
    for r in revisions:
        by_key.setdefault(r["key"], []).append((r["seq"], r["change_type"]))
    expected: dict[str, list[tuple[int, str]]] = {key(gid(i)): [(1, "created")] for i in range(N)}
    for i in changed:
        expected[key(gid(i))].append((2, "changed"))
    for i in deleted:
        expected[key(gid(i))].append((2, "deleted"))
    for i in NEW:
        expected[key(gid(i))] = [(1, "created")]
    assert {k: sorted(v) for k, v in by_key.items()} == expected

    events = await db.events.find({}, {"type": 1, "key": 1, "event_id": 1}).to_list(None)
    assert len({e["event_id"] for e in events}) == len(events)
    counts = Counter(e["type"] for e in events)
    assert counts == {
        "group.created": N + len(NEW),
        "group.changed": len(changed),
        "group.deleted": len(deleted),
        "issue.opened": N // 10 + len(OPENS),
        "issue.fixed": len(FIXES),
    }
    per_key = Counter((e["key"], e["type"]) for e in events)
    assert max(per_key.values()) == 1  # no group saw the same kind of event twice here

    issues = await db.issues.find({}, {"status": 1, "rule_text": 1, "key": 1}).to_list(None)
    statuses = Counter(d["status"] for d in issues)
    ssh_open = sum(1 for i in range(0, N, 10) if i not in FIXES and i not in DELETED)
    ssh_deleted = sum(1 for i in DELETED if i % 10 == 0)
    expected_statuses = {"open": ssh_open + len(OPENS), "fixed": len(FIXES)}
    if ssh_deleted:
        expected_statuses["deleted"] = ssh_deleted
    assert statuses == expected_statuses
    items = await db.items.find({}, {"seq": 1, "state": 1, "open_issues": 1}).to_list(None)
    assert len(items) == N + len(NEW)
    assert sum(d["open_issues"] for d in items) == statuses["open"]
    assert sum(1 for d in items if d["state"] == "deleted") == len(deleted)
