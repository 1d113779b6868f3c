"""What every admin page shares: turning the API's refusals into a message on the page."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from pydantic import ValidationError

from secmonkey.api.problems import Problem
from secmonkey.common.errors import Conflict, InvalidInput, NotFound

T = TypeVar("T")


class Refused(Exception):
    """An admin action the API refused: shown on the page, with the API's status."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def validation_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {reason}" if where else reason)
    return "; ".join(parts)


async def attempt(action: Awaitable[T]) -> T:
    try:
        return await action
    except (InvalidInput, ValidationError) as exc:
        text = validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
        raise Refused(text, 422) from None
    except NotFound as exc:
        raise Refused(str(exc), 404) from None
    except Conflict as exc:
        raise Refused(str(exc), 409) from None
    except Problem as exc:
        raise Refused(exc.detail, exc.status) from None


def build(model: type[T], **fields: Any) -> T:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise Refused(validation_text(exc), 422) from None


def split(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]
