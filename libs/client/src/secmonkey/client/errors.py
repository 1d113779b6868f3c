"""The error a client call raises when the API answers with a problem document."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """The API refused or failed a request; `status`, `title` and `detail` say why."""

    def __init__(self, status: int, title: str, detail: str | None, body: Any = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.body = body
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")


class ConnectionFailed(ApiError):
    """The API could not be reached at all."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(0, "Connection failed", f"cannot reach {url}: {reason}")
        self.args = (self.detail,)
