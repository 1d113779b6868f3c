"""A list of subdocuments stored as one opaque value, for documents that are rewritten
whole and never filtered on inside that list.

FerretDB 1.24 (SQLite) stores and rewrites arrays of small documents slowly: inserting
then replacing 1,000 rule-usage summaries (5 rules each, with their days, networks and top
sources) took 57 s with the rules as arrays and 25 s with them packed (this machine, under
load). MongoDB does not mind either form; one form is used everywhere.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import bson
from bson.binary import Binary
from bson.codec_options import CodecOptions

_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)


def pack(items: list[dict[str, Any]]) -> Binary:
    """`items` as one value (datetimes and binary values survive as such)."""
    return Binary(bson.encode({"items": items}))


def unpack(value: Any) -> list[dict[str, Any]]:
    """The list `pack` stored (datetimes aware, in UTC)."""
    decoded = bson.decode(bytes(value), codec_options=_OPTIONS)
    items: list[dict[str, Any]] = decoded["items"]
    return items
