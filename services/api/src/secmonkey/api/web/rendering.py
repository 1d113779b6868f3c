"""Rendering console pages: one Jinja2 environment with autoescaping on for every template.

Group names, descriptions and tags come from AWS and are user-controlled text, so nothing
is ever marked safe: every value is escaped where it is written into the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from secmonkey.api.schemas.groups import RuleView
from secmonkey.common.canonical import Rule
from secmonkey.common.dates import aware
from secmonkey.common.severity import Severity

HERE = Path(__file__).parent
SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]


def when(value: datetime | None) -> str:
    """A UTC instant as people read it: `2026-05-01 12:00 UTC`."""
    if value is None:
        return "—"
    return aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def when_seconds(value: datetime | None) -> str:
    if value is None:
        return "—"
    return aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    if value is None:
        return ""
    return aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def query(params: dict[str, Any] | None = None, **more: Any) -> str:
    """`?a=1&b=2` from the non-empty values (a stable URL to paste into a ticket)."""
    merged = {**(params or {}), **more}
    pairs = [(k, str(v)) for k, v in merged.items() if v not in (None, "", False)]
    return "?" + urlencode(pairs) if pairs else ""


def ports(rule: RuleView | Rule) -> str:
    """`tcp/22`, `udp/1000-2000`, `all`: the canonical rule's own wording."""
    if isinstance(rule, RuleView):
        rule = Rule.model_validate(rule.model_dump(exclude={"index", "text"}))
    return rule.ports_text()


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else (many or word + 's')}"


environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(
    when=when, when_seconds=when_seconds, iso=iso, plural=plural, ports=ports
)
environment.globals.update(query=query, severities=SEVERITIES)


def root_of(request: Request) -> str:
    """Where the console is mounted (`/console`), for links written into pages."""
    return str(request.scope.get("root_path") or "")


def here_of(request: Request) -> str:
    """The current page as a console-relative URL, to come back to after a form post."""
    path = str(request.scope.get("path") or "/")
    root = root_of(request)
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path + (f"?{request.url.query}" if request.url.query else "")


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page (or, for an htmx request, the same template's output) as an HTML response."""
    page = environment.get_template(template).render(
        request=request,
        root=root_of(request),
        htmx=request.headers.get("HX-Request") == "true",
        **{"here": here_of(request), **context},
    )
    return HTMLResponse(page, status_code=status_code)
