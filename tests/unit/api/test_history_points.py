"""`from`/`to` accept a revision number or an instant; anything else is a clear 422."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from secmonkey.api.queries.history import parse_point
from secmonkey.common.errors import InvalidInput


def test_a_number_is_a_revision() -> None:
    assert parse_point("3", "from") == 3


def test_an_instant_is_parsed_with_its_offset_and_naive_means_utc() -> None:
    assert parse_point("2026-05-01T12:00:00Z", "to") == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_point("2026-05-01T14:00:00+02:00", "to") == datetime(
        2026, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))
    )
    assert parse_point("2026-05-01T12:00:00", "to") == datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0", "yesterday", "2026-13-01", "99999999999", "-1"])
def test_anything_else_says_what_was_wrong(text: str) -> None:
    with pytest.raises(InvalidInput, match="from"):
        parse_point(text, "from")
