"""Date helpers every service needs the same way."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(value: datetime) -> datetime:
    """`value` as an aware datetime (a naive one is taken as UTC, as MongoDB stores it)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: compare and store observation times at that precision."""
    value = aware(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
