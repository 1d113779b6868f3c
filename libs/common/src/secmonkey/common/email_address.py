"""A linear check of an email address as a recipient (no regular expression: the previous
one backtracked quadratically on a 200 KB string), strict enough that an accepted address
can never carry a header break or a second recipient."""

from __future__ import annotations

MAX_ADDRESS = 254
MAX_LOCAL = 64
_FORBIDDEN = frozenset(' \t\r\n\x0b\x0c<>,;:"()[]\\')


def is_email_address(value: str) -> bool:
    if not 3 <= len(value) <= MAX_ADDRESS or not value.isascii() or not value.isprintable():
        return False
    if any(c in _FORBIDDEN for c in value):
        return False
    local, at, domain = value.partition("@")
    if not at or "@" in domain or not local or len(local) > MAX_LOCAL:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(
        label and len(label) <= 63 and not label.startswith("-") and not label.endswith("-")
        for label in labels
    )
