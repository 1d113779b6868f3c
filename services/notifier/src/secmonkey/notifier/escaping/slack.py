"""Slack mrkdwn: `&`, `<` and `>` escaped (so no `<!channel>`, `<!here>`, `<@U…>` or
`<https://evil|text>` can be formed), `@here`/`@channel`/`@everyone` broken by an invisible
joiner, and bare URLs made inert (Slack links them on its own)."""

from __future__ import annotations

import re

from secmonkey.notifier.escaping import ZWSP, defang_urls, one_line

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)


def text(value: str) -> str:
    """User text for a mrkdwn field, on one line."""
    return multiline(one_line(value))


def multiline(value: str) -> str:
    """User text for a mrkdwn field where line breaks are kept."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defang_urls(_BROADCAST.sub(lambda m: f"@{ZWSP}{m.group(1)}", escaped))
