"""Microsoft Teams (Adaptive Card TextBlock and FactSet text is Markdown): a user's
`[Re-login required](https://evil.example)` must read as those characters, not as a link.

Backslash escapes render literally where the renderer knows them (desktop, web); where it
does not (some mobile builds) the backslash shows, but `\\]\\(` still never forms a link and
`\\*` never opens emphasis, so the text is inert either way.
"""

from __future__ import annotations

import re

from secmonkey.notifier.escaping import defang_urls, one_line

_SPECIAL = re.compile(r"([\\`*_~\[\]<>])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(\s)")


def text(value: str) -> str:
    """User text for a TextBlock or a fact: one line, Markdown syntax escaped, URLs inert."""
    line = _SPECIAL.sub(r"\\\1", one_line(value)).replace("\\](", "\\]\\(")
    line = _LIST_START.sub(r"\1\\\2\3", line)
    return defang_urls(line)
