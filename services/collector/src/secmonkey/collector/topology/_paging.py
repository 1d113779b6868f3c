"""Following every page of the AWS list calls the topology reads (each names its own token).

Like `reader.pages`, anything short of the whole chain raises `IncompleteRead`: a topology
missing a route table or a load balancer would under-report what is exposed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from secmonkey.collector.reader import MAX_PAGES, IncompleteRead


def token_pages(
    call: Callable[..., dict[str, Any]],
    key: str,
    *,
    size_param: str = "MaxResults",
    size: int | None = 100,
    cursor_param: str = "NextToken",
    cursor_key: str = "NextToken",
    **params: Any,
) -> Iterator[Any]:
    """Every item of `key` across the chain of `cursor_key` → `cursor_param` pages."""
    seen: set[str] = set()
    token: str | None = None
    for _ in range(MAX_PAGES):
        request = dict(params)
        if size is not None:
            request[size_param] = size
        if token:
            request[cursor_param] = token
        answer = call(**request)
        yield from answer.get(key, [])
        token = answer.get(cursor_key) or None
        if token is None:
            return
        if token in seen:
            raise IncompleteRead(f"{key}: {cursor_key} {token[:16]}... came back twice")
        seen.add(token)
    raise IncompleteRead(f"{key}: more than {MAX_PAGES} pages")
