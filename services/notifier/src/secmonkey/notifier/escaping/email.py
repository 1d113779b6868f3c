"""Email headers: a value never breaks the header (no CR, LF or other control or separator
character, so no injected `Bcc:`), and recipients are plain addresses (checked linearly)."""

from __future__ import annotations

from secmonkey.common.email_address import is_email_address
from secmonkey.notifier.escaping import one_line

MAX_HEADER = 250


def header(value: str, limit: int = MAX_HEADER) -> str:
    """A header value on one line, at most `limit` characters."""
    line = one_line(value)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def recipients(addresses: list[str]) -> list[str]:
    """The addresses that are plain email addresses; anything else is left out."""
    return [a for a in addresses if is_email_address(a)]
