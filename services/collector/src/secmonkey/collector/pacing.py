"""Pacing the collector's AWS calls per account, region and service: a ceiling that leaves
the customer's own request quota room, and a rate that adapts to throttling (AIMD).

EC2 throttles each account per Region with token buckets; a non-mutating action
(Describe*) has a bucket of 100 tokens refilled at 20 per second ("Request throttling for
the Amazon EC2 API", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html,
request token bucket sizes and refill rates). The customer's own tools, consoles and
autoscalers draw from the same buckets, so by default the collector keeps to half of that:
a burst of 50 and 10 calls per second per account-region-service (`aws_pace_burst`,
`aws_pace_rate`), whatever its global concurrency.

Within that ceiling the allowed rate adapts: each throttling answer (RequestLimitExceeded
and its kin) halves it (multiplicative decrease, down to `aws_pace_min_rate`) and drops
the bucket's saved burst; each answer that is not throttled adds `aws_pace_increase`
calls per second back (additive increase), up to the ceiling. One `Pace` per key, shared
by every client and thread of that account-region-service; the number of paces grows with
the estate's account-regions, never with its groups.

The hooks sit on botocore's per-client events: `before-call` waits for a token (a call),
`before-send` waits for one again for each retried attempt, `needs-retry` sees each
attempt's answer and `after-call` the call's final one (a stubbed call has only
`before-call` and `after-call`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# botocore's throttling codes (botocore.retries.standard) and EC2's own.
THROTTLING_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "BandwidthLimitExceeded",
    }
)


@dataclass(frozen=True)
class PaceConfig:
    rate: float = 10.0  # calls per second: half of EC2's describe refill rate (20/s)
    burst: float = 50.0  # half of EC2's describe bucket (100)
    min_rate: float = 0.5
    increase: float = 0.5  # calls per second added back per answer not throttled


class Pace:
    """One account-region-service: a token bucket whose refill rate is the AIMD rate."""

    def __init__(
        self,
        config: PaceConfig,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.rate = config.rate
        self.tokens = config.burst
        self.clock, self.sleep = clock, sleep
        self.at = clock()
        self.lock = threading.Lock()
        self.calls = 0
        self.throttled_answers = 0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.config.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def acquire(self) -> float:
        """Take a token, waiting for it if the bucket is empty; the seconds waited."""
        with self.lock:
            now = self.clock()
            self._refill(now)
            self.tokens -= 1  # may go negative: the debt is the wait, in arrival order
            wait = 0.0 if self.tokens >= 0 else -self.tokens / self.rate
            self.calls += 1
            self.waited += wait
        if wait > 0:
            self.sleep(wait)
        return wait

    def throttled(self) -> None:
        """AWS said slow down: halve the rate and spend the saved burst."""
        with self.lock:
            self._refill(self.clock())
            self.throttled_answers += 1
            self.rate = max(self.config.min_rate, self.rate / 2)
            self.tokens = min(self.tokens, 0.0)

    def answered(self) -> None:
        """An answer that was not throttling: add some rate back, up to the ceiling."""
        with self.lock:
            self._refill(self.clock())
            self.rate = min(self.config.rate, self.rate + self.config.increase)


def error_code(parsed: Any) -> str | None:
    if isinstance(parsed, dict):
        error = parsed.get("Error")
        if isinstance(error, dict) and error.get("Code"):
            return str(error["Code"])
    return None


class Pacer:
    """The paces of every account-region-service this process calls, created on first use."""

    def __init__(
        self,
        config: PaceConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or PaceConfig()
        self.clock, self.sleep = clock, sleep
        self._paces: dict[tuple[str, str, str], Pace] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def pace(self, account_id: str, region: str, service: str) -> Pace:
        key = (account_id, region, service)
        with self._lock:
            pace = self._paces.get(key)
            if pace is None:
                pace = self._paces[key] = Pace(self.config, self.clock, self.sleep)
            return pace

    def throttled_total(self) -> int:
        with self._lock:
            return sum(p.throttled_answers for p in self._paces.values())

    def attach(
        self, client: Any, account: str | Callable[[], str | None], region: str, service: str
    ) -> None:
        """Pace every call (and retried attempt) of `client` on its account-region-service.
        `account` is the account's ID, or says on each call which account is acting (a
        client shared by accounts, `secmonkey.collector.acting`; a call without one is
        not paced)."""
        fixed = self.pace(account, region, service) if isinstance(account, str) else None
        local = self._local

        def current() -> Pace | None:
            if isinstance(account, str):
                return fixed
            acting = account()
            return self.pace(acting, region, service) if acting else None

        def before_call(**_: Any) -> None:
            local.sent, local.counted = False, False
            pace = current()
            if pace is not None:
                pace.acquire()

        def before_send(**_: Any) -> None:
            pace = current()
            if pace is not None and getattr(local, "sent", False):
                pace.acquire()  # a retried attempt waits for a token too
            local.sent = True

        def needs_retry(response: Any = None, **_: Any) -> None:
            pace = current()
            if response is None or pace is None:
                return
            if error_code(response[1]) in THROTTLING_CODES:
                pace.throttled()
                local.counted = True

        def after_call(parsed: Any = None, **_: Any) -> None:
            pace = current()
            if pace is None:
                return
            if error_code(parsed) in THROTTLING_CODES:
                if not getattr(local, "counted", False):
                    pace.throttled()
            else:
                pace.answered()

        events = client.meta.events
        events.register_first("before-call", before_call, unique_id="secmonkey-pace-call")
        events.register("before-send", before_send, unique_id="secmonkey-pace-send")
        events.register("needs-retry", needs_retry, unique_id="secmonkey-pace-retry")
        events.register("after-call", after_call, unique_id="secmonkey-pace-after")
