"""Leading edge: the first call on a quiet group is described at once.

A window (`window.py`) adds up to `events_window_seconds` to every event it holds. An
isolated change should not wait for that: a call whose groups were not described within
the last window, and are not waiting in an open one, is described at once on its own (a
describe of those group IDs only). What follows within the window coalesces as before, so
each group is still described at most once per window. Leading describes also draw on a
token bucket per account-region (`events_leading_per_second`, burst
`events_leading_burst`): past that rate, calls coalesce into windows as they always did,
which leaves the account's EC2 request quota to its owners.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from secmonkey.collector.cloudtrail.api_calls import ApiCall
from secmonkey.collector.cloudtrail.window import Window, Windows

GroupKey = tuple[str, str, str]  # account, region, group ID


@dataclass
class Bucket:
    """A token bucket: `burst` tokens, refilled at `rate` per second."""

    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class LeadingEdge:
    """Decides which calls are described at once, and remembers when groups were."""

    def __init__(
        self,
        window_seconds: float,
        per_second: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window_seconds
        self.rate = per_second
        self.burst = burst
        self.clock = clock
        self._described: dict[GroupKey, float] = {}
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._pruned = clock()

    def take(self, call: ApiCall, windows: Windows) -> bool:
        """True when `call` is to be described at once (its groups are then marked)."""
        if self.rate <= 0 or not call.group_ids or call.group_names:
            return False  # calls naming groups by name resolve them in a window
        now = self.clock()
        keys = [(call.account_id, call.region, g) for g in call.group_ids]
        if any(now - self._described.get(k, -self.window) < self.window for k in keys):
            return False
        if any(windows.holds(call.account_id, call.region, g) for g in call.group_ids):
            return False
        where = (call.account_id, call.region)
        bucket = self._buckets.get(where)
        if bucket is None:
            bucket = self._buckets[where] = Bucket(self.rate, self.burst, self.burst, now)
        if not bucket.take(now):
            return False
        for key in keys:
            self._described[key] = now
        self._prune(now)
        return True

    def described(self, window: Window) -> None:
        """A window's groups were just described: the next window starts from now."""
        now = self.clock()
        for group_id in window.ids:
            self._described[(window.account_id, window.region, group_id)] = now

    def _prune(self, now: float) -> None:
        if now - self._pruned < self.window * 10:
            return
        self._pruned = now
        quiet = [k for k, at in self._described.items() if now - at >= self.window]
        for key in quiet:
            del self._described[key]
