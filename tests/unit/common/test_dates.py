"""Instants read back from MongoDB compare with the ones secmonkey made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from secmonkey.common.dates import aware, to_millis


def test_a_naive_instant_is_read_as_utc_and_an_aware_one_is_kept() -> None:
    assert aware(datetime(2026, 5, 1, 12)) == datetime(2026, 5, 1, 12, tzinfo=UTC)
    paris = datetime(2026, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert aware(paris) is paris


def test_instants_are_cut_to_the_milliseconds_mongodb_keeps() -> None:
    assert to_millis(datetime(2026, 5, 1, 12, 0, 0, 123999)) == datetime(
        2026, 5, 1, 12, 0, 0, 123000, tzinfo=UTC
    )
    exact = datetime(2026, 5, 1, 12, 0, 0, 5000, tzinfo=UTC)
    assert to_millis(exact) == exact
