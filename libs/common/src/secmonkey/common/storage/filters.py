"""Typed filters: user input becomes a value in a filter, never an operator document.

`equals(name=value)` accepts only scalar values (a string from a query parameter cannot
smuggle `{"$ne": null}` in); the other builders take typed bounds. The one query form on
which the backends disagree (`element_between`) is chosen here by capability.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from secmonkey.common.errors import InvalidInput
from secmonkey.common.storage.backend import Capabilities, Document

Scalar = str | int | float | bool | datetime | None
_SCALARS = (str, int, float, bool, datetime, type(None))


def _scalar(field: str, value: Any) -> Scalar:
    if not isinstance(value, _SCALARS):
        raise InvalidInput(f"{field}: expected a single value, not {type(value).__name__}")
    return value


def equals(**values: Any) -> Document:
    """`{field: value, …}` for the values that are set (None means "any")."""
    return {field: _scalar(field, v) for field, v in values.items() if v is not None}


def one_of(field: str, values: Iterable[Any]) -> Document:
    """`field` equals one of `values`."""
    return {field: {"$in": [_scalar(field, v) for v in values]}}


def element_between(
    capabilities: Capabilities, array: str, field: str, low: Scalar, high: Scalar
) -> Document:
    """Some element of the array of documents `array` has `field` within [low, high].

    MongoDB needs `$elemMatch` to bound a multikey index on both sides (the dotted form
    would accept two different elements, each meeting one bound). FerretDB 1.24 refuses
    `$elemMatch` with several conditions, and there the dotted form compares within one
    element.
    """
    bounds = {"$gte": _scalar(field, low), "$lte": _scalar(field, high)}
    if capabilities.element_match:
        return {array: {"$elemMatch": {field: bounds}}}
    return {f"{array}.{field}": bounds}
