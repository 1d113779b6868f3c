"""Turns where writes are not conditional: one message at a time per account-region, in
arrival order, several account-regions at once."""

from __future__ import annotations

import asyncio

from secmonkey.auditor.turns import Turns

A = ("111111111111", "eu-west-1")
B = ("111111111111", "us-east-1")
C = ("222222222222", "eu-west-1")


async def test_one_place_takes_its_turns_in_arrival_order_while_others_run_beside_it() -> None:
    turns = Turns(limit=2)
    log: list[str] = []
    inside: set[tuple[str, str]] = set()
    most = 0

    async def message(place: tuple[str, str], name: str) -> None:
        nonlocal most
        async with turns.place(place):
            assert place not in inside  # never two of one place at once
            inside.add(place)
            most = max(most, len(inside))
            log.append(f"{name}+")
            await asyncio.sleep(0.01)
            log.append(f"{name}-")
            inside.discard(place)

    await asyncio.gather(*(message(A, f"a{n}") for n in range(3)), message(B, "b"), message(C, "c"))
    assert [e for e in log if e.startswith("a")] == ["a0+", "a0-", "a1+", "a1-", "a2+", "a2-"]
    assert most == 2  # two account-regions at once, never more than the limit
