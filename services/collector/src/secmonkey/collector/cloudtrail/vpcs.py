"""The VPCs that targeted describes read lately, per account and region.

A describe of the groups an event names also reads their VPCs (whether default, their
CIDRs) for the snapshot. Those rarely change, and at ten changes a second in one
account-region that read was a third of the EC2 calls, past the pace that leaves the
account its own quota. So a VPC read within `ttl` seconds is reused; sweeps read every
VPC afresh, and a CIDR associated meanwhile reaches event snapshots within `ttl`.
"""

from __future__ import annotations

import threading
import time

from secmonkey.common.messages import VpcSummary

TTL = 60.0
LIMIT = 10_000  # VPCs remembered at most (the oldest are forgotten first)


class RecentVpcs:
    def __init__(self, ttl: float = TTL, limit: int = LIMIT) -> None:
        self.ttl = ttl
        self.limit = limit
        self._read: dict[tuple[str, str, str], tuple[float, VpcSummary]] = {}
        self._lock = threading.Lock()  # describes run in threads

    def known(self, account_id: str, region: str) -> dict[str, VpcSummary]:
        """The account-region's VPCs read within `ttl` seconds."""
        now = time.monotonic()
        with self._lock:
            return {
                vpc_id: summary
                for (a, r, vpc_id), (at, summary) in self._read.items()
                if a == account_id and r == region and now - at < self.ttl
            }

    def remember(self, account_id: str, region: str, vpcs: dict[str, VpcSummary]) -> None:
        now = time.monotonic()
        with self._lock:
            for vpc_id, summary in vpcs.items():
                self._read.pop((account_id, region, vpc_id), None)
                self._read[(account_id, region, vpc_id)] = (now, summary)
            while len(self._read) > self.limit:
                del self._read[next(iter(self._read))]
