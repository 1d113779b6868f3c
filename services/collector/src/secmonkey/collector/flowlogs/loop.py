"""Reading flow logs periodically, on the replica that holds the scheduler lease (one
reader at a time, so summaries need no conditional writes)."""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from secmonkey.collector.credentials import AwsClients
from secmonkey.collector.flowlogs.run import FlowLogReader, ReadStats
from secmonkey.collector.lease import Lease
from secmonkey.collector.reader import enabled_regions
from secmonkey.collector.settings import Settings
from secmonkey.common import accounts
from secmonkey.common.storage import Database

log = logging.getLogger(__name__)


class FlowLogLoop:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clients: AwsClients,
        executor: ThreadPoolExecutor,
        lease: Lease | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clients = clients
        self.executor = executor
        self.lease = lease
        self.reader = FlowLogReader(
            db,
            clients.client,
            backfill_days=settings.flowlog_backfill_days,
            run_in_thread=self._in_thread,
        )

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    async def run(self) -> None:
        while True:
            wait = min(self.settings.flowlog_seconds, self.settings.scheduler_tick_seconds)
            if self.lease is None or self.lease.held:
                wait = self.settings.flowlog_seconds
                try:
                    await self.read_all()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("flow-log read failed; trying again next period")
            await asyncio.sleep(wait)

    async def read_all(self) -> dict[str, ReadStats]:
        """One pass over every monitored account with flow-log places; one account's
        failure is logged and the others are read."""
        done: dict[str, ReadStats] = {}
        for account in await accounts.monitored_accounts(self.db):
            if not account.flow_logs:
                continue
            try:
                regions = account.regions or await self._in_thread(
                    lambda a=account: enabled_regions(
                        self.clients.client(a, "ec2", self.settings.aws_region)
                    )
                )
                done[account.id] = await self.reader.read_account(account, list(regions))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("flow logs of %s not read: %s", account.id, exc)
        return done
