"""The pace of one account-region-service: a ceiling, and AIMD under throttling."""

from __future__ import annotations

import pytest

from secmonkey.collector.pacing import Pace, PaceConfig


class Clock:
    """Time that moves only when the pace sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_ceiling_is_a_burst_then_the_rate() -> None:
    clock = Clock()
    pace = Pace(PaceConfig(rate=10, burst=5), clock, clock.sleep)
    waits = [pace.acquire() for _ in range(8)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    # then one call per 1/10 s: 10 calls a second at most, whatever the callers' number
    assert waits[5:] == pytest.approx([0.1, 0.1, 0.1])
    assert clock.now == pytest.approx(0.3)
    assert pace.calls == 8


def test_throttling_halves_the_rate_and_answers_win_it_back_up_to_the_ceiling() -> None:
    clock = Clock()
    config = PaceConfig(rate=10, burst=5, min_rate=1, increase=1)
    pace = Pace(config, clock, clock.sleep)
    pace.throttled()
    assert pace.rate == 5
    assert pace.tokens <= 0  # the saved burst is spent: the next call waits
    assert pace.acquire() == pytest.approx(1 / 5)
    for _ in range(4):
        pace.throttled()
    assert pace.rate == 1  # never below the floor
    for _ in range(3):
        pace.answered()
    assert pace.rate == 4
    for _ in range(20):
        pace.answered()
    assert pace.rate == 10  # never above the ceiling
    assert pace.throttled_answers == 5


def test_waits_queue_in_arrival_order() -> None:
    """Callers that arrive together are spread out, not released at once."""
    clock = Clock()
    pace = Pace(PaceConfig(rate=4, burst=1), clock, lambda s: None)  # nobody sleeps
    waits = [pace.acquire() for _ in range(5)]
    assert waits == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
