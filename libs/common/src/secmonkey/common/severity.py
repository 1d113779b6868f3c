"""Severities, ordered, with the one-step raise/lower that exposure context applies."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def raised(self) -> Severity:
        return _ORDER[min(self.rank + 1, len(_ORDER) - 1)]

    def lowered(self) -> Severity:
        return _ORDER[max(self.rank - 1, 0)]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_ORDER = [Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
SEVERITY_RANK = {s.value: s.rank for s in _ORDER}
