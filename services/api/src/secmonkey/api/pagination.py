"""Opaque cursors: the sort key of the last row of a page, typed and validated on return.

A cursor is URL-safe base64 of a small JSON object. Decoding validates it against a
pydantic model so that nothing but plain strings, numbers and dates from a cursor ever
reaches a MongoDB filter; a cursor that does not decode is a 422 saying so.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from secmonkey.common.errors import InvalidInput

C = TypeVar("C", bound=BaseModel)
MAX_CURSOR_LENGTH = 2048


def encode_cursor(position: BaseModel) -> str:
    raw = position.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, model: type[C]) -> C | None:
    """The position a cursor names, or None for the first page; `InvalidInput` if malformed."""
    if text is None or text == "":
        return None
    if len(text) > MAX_CURSOR_LENGTH:
        raise InvalidInput("malformed cursor: too long; pass back the next_cursor of a page")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        if not _fits_int64(data):
            raise ValueError("a number in the cursor is out of range")
        return model.model_validate(data)
    except (binascii.Error, ValueError, UnicodeDecodeError, ValidationError):
        raise InvalidInput(
            "malformed cursor: pass back the next_cursor of a previous page unchanged"
        ) from None


def _fits_int64(value: object) -> bool:
    """The database stores 8-byte integers: a larger one in a filter is an encoding error."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, dict):
        return all(_fits_int64(v) for v in value.values())
    if isinstance(value, list):
        return all(_fits_int64(v) for v in value)
    return True
