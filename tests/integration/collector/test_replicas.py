"""Two collector processes: one schedules, both sweep, a killed scheduler is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from secmonkey.collector.scheduler import LEASE_ID, Lease
from secmonkey.collector.settings import Settings
from secmonkey.collector.simulate import EXTERNAL_ID, fill_estate, role_arn
from secmonkey.common.documents import Account
from secmonkey.common.messages import utcnow
from secmonkey.common.storage import Database
from tests.integration.collector.conftest import SnapshotSink, add_accounts, random_account_ids
from tests.support.servers import MotoServer, free_port

pytestmark = pytest.mark.integration
T = TypeVar("T")

# Long enough that a replica busy sweeping on a loaded 2-core CI machine still renews in time.
LEASE_SECONDS = 6.0
RENEW_EVERY = LEASE_SECONDS / 3


class Replica:
    """`python -m secmonkey.collector` in its own process, configured by environment."""

    def __init__(self, name: str, settings: Settings, log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_dir / f"{name}.log"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SECMONKEY_") and not k.startswith("PYTEST")
        }
        env.update(
            {
                "SECMONKEY_ENVIRONMENT": "test",
                "SECMONKEY_MONGO_URL": settings.mongo_url,
                "SECMONKEY_MONGO_DB": settings.mongo_db,
                "SECMONKEY_AMQP_URL": settings.amqp_url,
                "SECMONKEY_AWS_ENDPOINT_URL": str(settings.aws_endpoint_url),
                "SECMONKEY_SWEEPS_QUEUE": settings.sweeps_queue,
                "SECMONKEY_ROUTING_PREFIX": settings.routing_prefix,
                "SECMONKEY_REPLICA_ID": name,
                "SECMONKEY_PORT": str(self.port),
                "SECMONKEY_PREFETCH": "1",
                "SECMONKEY_SWEEP_INTERVAL_SECONDS": "2",
                "SECMONKEY_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
                "SECMONKEY_SCHEDULER_TICK_SECONDS": "0.5",
                "SECMONKEY_LOG_JSON": "true",
            }
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "secmonkey.collector"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout: float = 30) -> None:
        async def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                async with httpx.AsyncClient() as client:
                    r = await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
                return r.status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout, f"{self.name} ready")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float, what: str) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def replicas(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Replica]]:
    started: dict[str, Replica] = {}
    yield started
    for replica in started.values():
        replica.stop()


async def test_only_one_schedules_both_sweep_and_a_killed_scheduler_is_replaced(
    settings: Settings,
    db: Database,
    sink: SnapshotSink,
    moto: MotoServer,
    replicas: dict[str, Replica],
    tmp_path: Path,
) -> None:
    accounts = random_account_ids(3)
    fill_estate(moto.url, accounts, ["us-east-1"], groups_per_region=3, seed=5)
    await add_accounts(
        db,
        [
            Account(
                id=a,
                name=a,
                role_arn=role_arn(a),
                external_id=EXTERNAL_ID,
                regions=["us-east-1"],
            )
            for a in accounts
        ],
    )

    observer = Lease(db, LEASE_ID, "observer", LEASE_SECONDS)

    async def lease() -> dict[str, Any]:
        return await observer.current() or {}

    async def sweepers() -> set[str]:
        docs = await db.sweeps.find({"kind": "region", "status": "complete"}).to_list(None)
        return {d["collector"] for d in docs}

    async def schedulers() -> set[str]:
        docs = await db.sweeps.find({"kind": "sweep"}).to_list(None)
        return {d["requested_by"] for d in docs}

    replicas["first"] = Replica("first", settings, tmp_path)
    await replicas["first"].ready()
    await eventually(lambda: _holder_is(lease, "first"), 20, "the first replica to take the lease")
    replicas["second"] = Replica("second", settings, tmp_path)
    await replicas["second"].ready()

    # Both take sweep requests off the queue; only the lease holder ever requested any.
    await eventually(lambda: _has_both(sweepers), 40, "both replicas to sweep")
    assert await schedulers() == {"first"}
    assert (await lease())["holder"] == "first"

    replicas["first"].kill()
    killed_at = utcnow()
    taken = await eventually(
        lambda: _holder_is(lease, "second"), 20, "the second replica to take over"
    )
    # The dead holder's lease runs out at most one lease period after its last renewal
    # (before the kill); the second replica tries again every third of a period.
    assert taken["acquired_at"] - killed_at <= timedelta(seconds=LEASE_SECONDS + RENEW_EVERY + 2)
    # ...and the schedule goes on, now requested by the second replica.
    await eventually(
        lambda: _scheduled_after(db, taken["acquired_at"], "second"),
        20,
        "a sweep scheduled by the second replica",
    )
    assert await schedulers() == {"first", "second"}
    # Everything published was routed: SweepCompleted arrived from both replicas' sweeps.
    assert {c.account_id for c in sink.completed} == set(accounts)
    assert all(c.complete for c in sink.completed)


async def _holder_is(lease: Callable[[], Awaitable[dict[str, Any]]], name: str) -> Any:
    doc = await lease()
    return doc if doc.get("holder") == name else None


async def _has_both(sweepers: Callable[[], Awaitable[set[str]]]) -> bool:
    return {"first", "second"} <= await sweepers()


async def _scheduled_after(db: Database, since: Any, name: str) -> bool:
    found = await db.sweeps.find_one(
        {"kind": "sweep", "requested_by": name, "requested_at": {"$gte": since}}
    )
    return found is not None
