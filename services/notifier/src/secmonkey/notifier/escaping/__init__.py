"""Escaping of user-controlled text (group names, descriptions, tags, rule texts, account
names) for each channel family it is shown in: `teams` (Adaptive Card Markdown), `slack`
(mrkdwn), `email` (headers; the HTML part is autoescaped by Jinja2). Text that secmonkey
writes itself (its links, labels) is never passed through them twice."""

from __future__ import annotations

import unicodedata

# Zero-width space: invisible, and no linkifier sees `https://` across it.
ZWSP = "\u200b"


def one_line(text: str) -> str:
    """Every control, format and line/paragraph separator character gone, runs of
    whitespace one space: a value cannot start a new line (a header, a list item)."""
    kept = (
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in text
        if unicodedata.category(c) != "Cf"
    )
    return " ".join("".join(kept).split())


def defang_urls(text: str) -> str:
    """`https://x` shown as text, never as a link a client makes of it."""
    return text.replace("://", f":{ZWSP}//")
