"""Passes: the messages waiting for distinct account-regions are applied together, each
account-region's in arrival order, and one bad message never fails the others."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect

from secmonkey.auditor.passes import Message, Passes
from secmonkey.common.errors import InvalidInput
from secmonkey.common.messages import Event
from tests.integration.auditor.kit import T0, batch, completed

A, B, C = "111111111111", "222222222222", "333333333333"


class Recorder:
    """An `apply` that records its passes, and fails as told."""

    def __init__(
        self, *, bad: frozenset[float] = frozenset(), error: Exception | None = None
    ) -> None:
        self.passes: list[list[tuple[str, str, float]]] = []
        self.bad = bad
        self.error = error or InvalidInput("a bad message")
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, messages: list[Message]) -> list[list[Event]]:
        self.passes.append([(m.account_id, type(m).__name__, seconds(m)) for m in messages])
        await self.gate.wait()
        if any(seconds(m) in self.bad for m in messages):
            raise self.error
        return [[] for _ in messages]


def seconds(message: Message) -> float:
    return (message.observed_at - T0).total_seconds()


async def behind_a_first(
    apply: Recorder, passes: Passes, first: Message, *rest: Message
) -> list[object]:
    """Submit `first`, which holds the only slot, then `rest`, which wait meanwhile; the
    results of `rest` (exceptions returned)."""
    apply.gate.clear()
    held = asyncio.ensure_future(passes.submit(first))
    await asyncio.sleep(0)
    waiting = asyncio.gather(*(passes.submit(m) for m in rest), return_exceptions=True)
    await asyncio.sleep(0.01)
    apply.gate.set()
    await held
    return list(await waiting)


async def test_messages_that_wait_go_together_one_per_account_region_in_arrival_order() -> None:
    apply = Recorder()
    passes = Passes(apply, size=8, concurrency=1)
    rest = [batch(2, account=A), batch(3, account=B), batch(4, account=C), batch(5, account=B)]
    await behind_a_first(apply, passes, batch(1, account=A), *rest)
    runs = [[(acct, s) for acct, _, s in p] for p in apply.passes]
    # A's second message waited for its first; B's second for a later pass.
    assert runs == [[(A, 1)], [(A, 2), (B, 3), (C, 4)], [(B, 5)]]


async def test_a_sweep_end_goes_alone_and_keeps_its_place_in_the_order() -> None:
    apply = Recorder()
    passes = Passes(apply, size=8, concurrency=1)
    rest = [batch(2, account=A), completed(3, [], account=A), batch(4, account=A)]
    await behind_a_first(apply, passes, batch(1, account=C), *rest, batch(5, account=B))
    kinds = [[(acct, kind, s) for acct, kind, s in p] for p in apply.passes]
    assert kinds == [
        [(C, "SnapshotBatch", 1)],
        [(A, "SnapshotBatch", 2), (B, "SnapshotBatch", 5)],
        [(A, "SweepCompleted", 3)],
        [(A, "SnapshotBatch", 4)],
    ]


async def test_a_pass_takes_at_most_its_size_and_concurrent_passes_share_no_place() -> None:
    apply = Recorder()
    passes = Passes(apply, size=2, concurrency=2)
    messages = [batch(n, account=f"{n % 3 + 1}" * 12) for n in range(1, 10)]
    await asyncio.gather(*(passes.submit(m) for m in messages))
    assert max(len(p) for p in apply.passes) <= 2
    assert sorted(s for p in apply.passes for _, _, s in p) == list(range(1, 10))
    for run in apply.passes:
        assert len({acct for acct, _, _ in run}) == len(run)  # one message per place


async def test_one_bad_message_fails_alone_and_the_others_are_applied() -> None:
    apply = Recorder(bad=frozenset({3}))
    passes = Passes(apply, size=8, concurrency=1)
    rest = [batch(2, account=A), batch(3, account=B), batch(4, account=C)]
    two, three, four = await behind_a_first(apply, passes, batch(1, account=A), *rest)
    assert (two, four) == ([], [])
    assert isinstance(three, InvalidInput)
    sizes = [len(p) for p in apply.passes]
    assert sizes == [1, 3, 1, 1, 1]  # the pass of three, then each alone


async def test_an_unreachable_database_fails_the_whole_pass_at_once() -> None:
    apply = Recorder(bad=frozenset({2}), error=AutoReconnect("connection refused"))
    passes = Passes(apply, size=8, concurrency=1)
    rest = [batch(2, account=A), batch(3, account=B)]
    results = await behind_a_first(apply, passes, batch(1, account=C), *rest)
    assert all(isinstance(r, AutoReconnect) for r in results)
    assert [len(p) for p in apply.passes] == [1, 2]  # not redone one by one


async def test_a_message_cancelled_while_it_waits_is_never_applied() -> None:
    apply = Recorder()
    passes = Passes(apply, size=8, concurrency=1)
    apply.gate.clear()
    first = asyncio.ensure_future(passes.submit(batch(1, account=A)))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(passes.submit(batch(2, account=B)))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    apply.gate.set()
    await first
    assert [[s for _, _, s in p] for p in apply.passes] == [[1]]
