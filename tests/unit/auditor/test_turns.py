"""One message at a time per account-region where writes are not conditional; different
account-regions interleave; a whole-database job runs alone."""

from __future__ import annotations

import asyncio

from secmonkey.auditor.turns import Turns


async def test_one_account_region_at_a_time_in_order_others_interleave() -> None:
    turns = Turns()
    log: list[str] = []

    async def work(name: str, place: tuple[str, str]) -> None:
        async with turns.place(*place):
            log.append(f"{name}+")
            await asyncio.sleep(0.02)
            log.append(f"{name}-")

    a, b = ("1", "eu-west-1"), ("2", "eu-west-1")
    await asyncio.gather(work("a1", a), work("a2", a), work("b1", b))
    # a2 waits for a1 (same account-region, asked second); b1 runs beside a1.
    assert log.index("a1-") < log.index("a2+")
    assert log.index("b1+") < log.index("a1-")


async def test_a_job_on_every_account_region_runs_alone() -> None:
    turns = Turns()
    log: list[str] = []

    async def message(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with turns.place(name, "r"):
            log.append(f"{name}+")
            await asyncio.sleep(0.05)
            log.append(f"{name}-")

    async def job() -> None:
        await asyncio.sleep(0.01)
        async with turns.everything():
            log.append("job+")
            await asyncio.sleep(0.05)
            log.append("job-")

    await asyncio.gather(message("early", 0), job(), message("late", 0.02))
    # The job waits for the message under way; the message asked meanwhile waits for it.
    assert log == ["early+", "early-", "job+", "job-", "late+", "late-"]
