"""When a delivery is tried again, decided from its earlier attempts and how the last one ended.

- Nothing was sent (refused, unreachable) or the receiver answered 408, 429 or 5xx: the
  receiver certainly did not act on it, so it is retried soon — exponential backoff with
  jitter (`retry_base_seconds` doubling up to `retry_max_seconds`, a longer Retry-After
  honoured) — until the delivery is `delivery_max_age_seconds` old.
- Sent, no answer in time (`unknown`): the receiver may be slow rather than gone, and may
  act on the request later. The next attempt waits `ambiguous_retry_seconds` (doubling
  with each further unanswered attempt), long enough for a merely slow receiver to have
  answered, so it sees at most one duplicate — which it can drop by `webhook-id`.
- Slack and Teams cannot drop duplicates: once an attempt went unanswered, one more
  request is made (attempts refused before reaching them do not count) and, whatever it
  gets short of delivered, the delivery fails. They get at most two posts of one alert.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from secmonkey.common.delivery_schedule import Attempt
from secmonkey.notifier.channels.base import Outcome
from secmonkey.notifier.settings import Settings

# Channels whose receivers do not deduplicate: each request that reaches them may post.
NOT_DEDUPLICATED = frozenset({"slack", "teams"})


def backoff(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds before attempt `attempt + 1`: base·2^(attempt-1) capped, half of it jittered.

    A server's Retry-After is honoured when it asks for longer.
    """
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    delay = ceiling / 2 + rng() * ceiling / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


@dataclass(frozen=True)
class Retry:
    delay: float


@dataclass(frozen=True)
class GiveUp:
    reason: str


@dataclass(frozen=True)
class RetryPolicy:
    base: float
    cap: float
    ambiguous: float
    max_age: float

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base=settings.retry_base_seconds,
            cap=settings.retry_max_seconds,
            ambiguous=settings.ambiguous_retry_seconds,
            max_age=settings.delivery_max_age_seconds,
        )

    def unanswered_delay(self, unanswered: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds after the `unanswered`-th attempt with no answer: never less than the setting."""
        return self.ambiguous * 2.0 ** max(unanswered - 1, 0) * (1 + rng() / 10)

    def after(
        self,
        channel: str,
        earlier: Sequence[Attempt],
        outcome: Outcome,
        age: float,
        rng: Callable[[], float] = random.random,
    ) -> Retry | GiveUp:
        """What follows attempt `len(earlier) + 1`, which ended in `outcome` (not delivered,
        not failed) when the delivery was `age` seconds old."""
        n = len(earlier) + 1
        error = outcome.error or outcome.result
        unanswered = sum(a.outcome == "unknown" for a in earlier)
        if channel in NOT_DEDUPLICATED and unanswered and outcome.sent:
            return GiveUp(
                f"not tried again: {channel} does not drop duplicates and an earlier attempt "
                f"went unanswered (it may have posted); attempt {n}: {error}"
            )
        delay = backoff(n, self.base, self.cap, outcome.retry_after, rng)
        if outcome.result == "unknown":
            delay = max(delay, self.unanswered_delay(unanswered + 1, rng))
        if age + delay > self.max_age:
            return GiveUp(f"gave up after {n} attempts over {age:.0f}s: {error}")
        return Retry(delay)
