"""Instants as secmonkey stores and compares them: timezone-aware UTC, at MongoDB's precision."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(value: datetime) -> datetime:
    """`value` with a timezone: a naive datetime (as BSON and some inputs give) is read as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: compare and store observation times at that precision."""
    value = aware(value)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
