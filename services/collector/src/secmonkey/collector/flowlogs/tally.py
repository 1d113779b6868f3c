"""Per (group, rule, day): hits, ambiguous flows, last use, sources.

Sources are kept exactly (with their hits) up to `SOURCE_BOUND` per rule and day; beyond
it new sources only feed a HyperLogLog sketch (256 registers, about 6.5 % standard
error), so memory per rule and day is bounded whatever the traffic, and distinct counts
say whether they are exact or approximate.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from secmonkey.collector.flowlogs.inventory import Inventory
from secmonkey.collector.flowlogs.records import AMBIGUOUS, Counts

SOURCE_BOUND = 100
HLL_BITS = 8
HLL_SIZE = 1 << HLL_BITS


def hll_add(registers: bytearray, value: str) -> None:
    h = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big")
    index = h >> (64 - HLL_BITS)
    rest = h & ((1 << (64 - HLL_BITS)) - 1)
    rank = (64 - HLL_BITS) - rest.bit_length() + 1
    if rank > registers[index]:
        registers[index] = rank


def hll_merge(into: bytearray, other: bytes | bytearray) -> None:
    for i, rank in enumerate(other):
        if rank > into[i]:
            into[i] = rank


def hll_estimate(registers: bytes | bytearray) -> int:
    m = len(registers)
    alpha = 0.7213 / (1 + 1.079 / m)
    estimate = alpha * m * m / sum(2.0**-r for r in registers)
    zeros = registers.count(0)
    if estimate <= 2.5 * m and zeros:
        estimate = m * math.log(m / zeros)
    return round(estimate)


@dataclass(slots=True)
class RuleDay:
    """What one day of flows says of one rule of one group. The sketch exists only once
    the exact sources overflow (it then holds them all, and every later one)."""

    hits: int = 0
    ambiguous: int = 0
    last: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    hll: bytearray | None = None

    @property
    def overflow(self) -> bool:
        return self.hll is not None

    def add_source(self, src: str, count: int) -> None:
        sources = self.sources
        known = sources.get(src)
        if known is not None:
            sources[src] = known + count
        elif len(sources) < SOURCE_BOUND:
            sources[src] = count
        else:
            if self.hll is None:
                self.hll = bytearray(HLL_SIZE)
                for seen in sources:
                    hll_add(self.hll, seen)
            hll_add(self.hll, src)

    @property
    def distinct(self) -> int:
        return hll_estimate(self.hll) if self.hll is not None else len(self.sources)


# (group id, rule text, epoch day)
DayKey = tuple[str, str, int]


@dataclass
class Tally:
    days: dict[DayKey, RuleDay] = field(default_factory=dict)
    unattributed: int = 0

    def drain(self, counts: Counts, inventory: Inventory) -> None:
        """Attribute `counts` to rules and empty it (once per distinct flow key: the
        common case of `RuleDay.add_source` is inlined)."""
        days = self.days
        match = inventory.match
        unattributed = 0
        for (eni, src, proto, port, day, kind), (count, last) in counts.keys.items():
            rules = match(eni, src, proto, port)
            if not rules:
                unattributed += count
                continue
            for rule in rules:
                key = (rule.group_id, rule.text, day)
                entry = days.get(key)
                if entry is None:
                    entry = days[key] = RuleDay()
                if kind == AMBIGUOUS:
                    entry.ambiguous += count
                    continue
                entry.hits += count
                if last > entry.last:
                    entry.last = last
                sources = entry.sources
                known = sources.get(src)
                if known is not None:
                    sources[src] = known + count
                else:
                    entry.add_source(src, count)
        self.unattributed += unattributed
        counts.keys.clear()

    def size(self) -> int:
        return sum(len(d.sources) + 8 for d in self.days.values())
