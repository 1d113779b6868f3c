"""Cursors round-trip and a tampered cursor is refused, never passed to MongoDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from secmonkey.api.pagination import decode_cursor, encode_cursor
from secmonkey.common.errors import InvalidInput


class Position(BaseModel):
    k: str
    at: datetime


def test_a_cursor_round_trips() -> None:
    position = Position(k="aws:111111111111:us-east-1:sg-1", at=datetime(2026, 1, 2, tzinfo=UTC))
    assert decode_cursor(encode_cursor(position), Position) == position


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None, Position) is None
    assert decode_cursor("", Position) is None


@pytest.mark.parametrize(
    "text",
    [
        "not base64 at all!",
        "e30",  # {} : fields missing
        encode_cursor(Position(k="x", at=datetime(2026, 1, 1, tzinfo=UTC)))[:-3],
        "eyJrIjogeyIkZ3QiOiAiIn0sICJhdCI6ICIyMDI2LTAxLTAxIn0",  # {"k": {"$gt": ""}, ...}
        "A" * 5000,
    ],
)
def test_a_malformed_cursor_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="malformed cursor"):
        decode_cursor(text, Position)
