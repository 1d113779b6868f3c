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

SOURCE_BOUND = 1000
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


@dataclass
class RuleDay:
    """What one day of flows says of one rule of one group."""

    hits: int = 0
    ambiguous: int = 0
    last: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    overflow: bool = False
    hll: bytearray = field(default_factory=lambda: bytearray(HLL_SIZE))

    def add_source(self, src: str, count: int) -> None:
        known = self.sources.get(src)
        if known is not None:
            self.sources[src] = known + count
            return
        if len(self.sources) < SOURCE_BOUND:
            self.sources[src] = count
        else:
            self.overflow = True
        hll_add(self.hll, src)

    def merge(self, other: RuleDay) -> None:
        self.hits += other.hits
        self.ambiguous += other.ambiguous
        self.last = max(self.last, other.last)
        self.overflow = self.overflow or other.overflow
        for src, count in other.sources.items():
            if src in self.sources or len(self.sources) < SOURCE_BOUND:
                self.sources[src] = self.sources.get(src, 0) + count
            else:
                self.overflow = True
        hll_merge(self.hll, other.hll)

    @property
    def distinct(self) -> int:
        return hll_estimate(self.hll) if self.overflow else len(self.sources)


# (group id, rule text, epoch day)
DayKey = tuple[str, str, int]


@dataclass
class Tally:
    days: dict[DayKey, RuleDay] = field(default_factory=dict)
    unattributed: int = 0

    def drain(self, counts: Counts, inventory: Inventory) -> None:
        """Attribute `counts` to rules and empty it."""
        days = self.days
        for (eni, src, proto, port, day, kind), (count, last) in counts.keys.items():
            rules = inventory.match(eni, src, proto, port)
            if not rules:
                self.unattributed += count
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
                entry.add_source(src, count)
        counts.keys.clear()

    def size(self) -> int:
        return sum(len(d.sources) + 8 for d in self.days.values())
