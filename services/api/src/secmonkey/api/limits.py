"""Request limits applied before anything reads a body, so before authentication.

A pure ASGI middleware (outermost): a declared `Content-Length` over the cap is answered
413 at once, without reading; a body sent without one (chunked) is counted as it streams
and cut off at the cap. Forms (the console's sign-in and admin pages) get tighter limits:
a smaller total, a bounded number of fields and a bounded field size, counted on the
urlencoded bytes as they arrive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secmonkey.api.asgi import HttpMiddleware

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyTooLarge(Exception):
    """A body past a limit; answered 413."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    body_bytes: int
    form_bytes: int
    form_fields: int
    form_field_bytes: int


class _Counter:
    """Counts the bytes (and, for urlencoded forms, the fields) of one body."""

    def __init__(self, limits: Limits, content_type: str) -> None:
        self.form = content_type.startswith(FORM_TYPES)
        self.urlencoded = content_type.startswith(FORM_TYPES[0])
        self.cap = limits.form_bytes if self.form else limits.body_bytes
        self.limits = limits
        self.total = 0
        self.fields = 1
        self.field = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if self.total > self.cap:
            raise BodyTooLarge(f"the request body is larger than {self.cap} bytes")
        if not self.urlencoded:
            return
        for i, part in enumerate(chunk.split(b"&")):
            if i:
                self.fields += 1
                self.field = 0
            self.field += len(part)
            if self.field > self.limits.form_field_bytes:
                raise BodyTooLarge(
                    f"a form field is larger than {self.limits.form_field_bytes} bytes"
                )
        if self.fields > self.limits.form_fields:
            raise BodyTooLarge(f"the form has more than {self.limits.form_fields} fields")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


class BodyLimit(HttpMiddleware):
    """ASGI middleware enforcing `Limits` on every HTTP request it passes on."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        super().__init__(app)
        self.limits = limits

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        counter = _Counter(self.limits, _header(scope, b"content-type").lower())
        declared = _header(scope, b"content-length")
        if declared.isascii() and declared.isdigit() and int(declared) > counter.cap:
            await _too_large(send, f"the request body is larger than {counter.cap} bytes")
            return
        # Past a limit the answer is sent from here and the application sees a disconnect:
        # whatever it (or a middleware between) makes of that is not sent.
        started = refused = False

        async def counted() -> Message:
            nonlocal refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                try:
                    counter.add(message.get("body", b""))
                except BodyTooLarge as exc:
                    refused = True
                    if not started:
                        await _too_large(send, str(exc.detail))
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception:
            if not refused:
                raise


async def _too_large(send: Send, detail: str) -> None:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": detail,
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(raw)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})
